"""Thin framework shells over :mod:`soajs.middleware`: fastapi.py, flask.py, django.py."""
