"""A Django project in one module, with an async view that calls another service (gunicorn, WSGI).

Under WSGI, Django runs an async view in a one-off event loop per request
(asgiref ``async_to_sync``). ``SOAJS_TEST_CALLEE`` is the service it calls.
"""

from __future__ import annotations

import os

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="test-only",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
)
django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402  (after settings)
from django.http import HttpRequest, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402

from soajs.connector import AsyncServiceConnector  # noqa: E402
from tests.connector.apps.common import CONTEXT  # noqa: E402


async def call(request: HttpRequest) -> JsonResponse:
    answer = await AsyncServiceConnector(CONTEXT).get("b", "/x", version="1")
    return JsonResponse({"status": answer.status_code, "pid": os.getpid()})


urlpatterns = [path("call", call)]
app = get_wsgi_application()
