"""A Flask app with an ``async def`` view that calls another service: run by gunicorn in tests.

Under a WSGI server Flask runs each async view with asgiref's
``async_to_sync``: a new event loop (in a new thread) per request, the
shape that leaked one pooled AsyncClient per request (issue 12, finding 4).
``SOAJS_TEST_CALLEE`` is the ``host:port`` of the service it calls.
"""

from __future__ import annotations

import os

from flask import Flask

from soajs.connector import AsyncServiceConnector
from tests.connector.apps.common import CONTEXT

app = Flask(__name__)


@app.get("/call")
async def call() -> dict[str, int]:
    answer = await AsyncServiceConnector(CONTEXT).get("b", "/x", version="1")
    return {"status": answer.status_code, "pid": os.getpid()}
