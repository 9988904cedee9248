"""Django example settings: ``django-admin runserver 4381 --settings examples.django_app.settings``.

Configured by the SOAJS_* environment variables alone (see examples/_service.py).
"""

from __future__ import annotations

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-a-secret")
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "examples.django_app.urls"
INSTALLED_APPS: list[str] = []
MIDDLEWARE = [
    "soajs.contrib.django.SOAJSMiddleware",
    "soajs.response.django.EnvelopeMiddleware",  # a raised SoajsError answers the envelope
]
DATABASES: dict[str, object] = {}
USE_TZ = True
SOAJS = {"registry": "examples.django_app.registry.registry"}
SOAJS_RESPONSE = {"errors": {400: "Order not found"}}
