"""Django with the soajs middleware and ``soajs.response.django.EnvelopeMiddleware`` on a
real werkzeug server, in a process of its own (Django's settings are process-global)::

    python -m tests.response.django_server '{"strict": true, "response_format": "envelope"}'

prints its port as one JSON line and serves until killed. Routes: those of
tests/response/apps.py, and ``/envelope`` (``envelope_response``),
``/badrequest`` and ``/badmultipart`` (Django's own 400s).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import path

from soajs.response.django import envelope_response
from tests.integration.servers import serve_until_killed
from tests.response.apps import ERRORS, OPTIONS, ROUTES, Item, late_body, raise_for


def _view(name: str) -> Any:
    def view(request: HttpRequest) -> HttpResponse:
        return JsonResponse(raise_for(name))

    return view


def late(request: HttpRequest) -> StreamingHttpResponse:
    return StreamingHttpResponse(late_body())


def items(request: HttpRequest, n: str) -> JsonResponse:
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        data = {}
    body = Item.model_validate({**(data if isinstance(data, dict) else {}), "n": n})
    return JsonResponse({"result": True, "data": body.model_dump()})


def bad_request(request: HttpRequest) -> HttpResponse:
    from django.core.exceptions import BadRequest

    raise BadRequest("bad query")


def bad_multipart(request: HttpRequest) -> HttpResponse:
    from django.http.multipartparser import MultiPartParserError

    raise MultiPartParserError("bad multipart")


def envelope(request: HttpRequest) -> HttpResponse:
    return envelope_response({"id": 7}, status=201, headers={"X-Order": "7"})


urlpatterns = [
    *[path(name, _view(name)) for name in ROUTES],
    path("late", late),
    path("items/<str:n>", items),
    path("envelope", envelope),
    path("badrequest", bad_request),
    path("badmultipart", bad_multipart),
]


def main(argv: list[str]) -> None:
    import django
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler

    settings.configure(
        DEBUG=False,
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF="tests.response.django_server",
        INSTALLED_APPS=[],
        MIDDLEWARE=[
            "soajs.contrib.django.SOAJSMiddleware",
            "soajs.response.django.EnvelopeMiddleware",
        ],
        DATABASES={},
        SECRET_KEY="tests-only",
        USE_TZ=True,
        SOAJS={**OPTIONS, **json.loads(argv[1])},
        SOAJS_RESPONSE={"errors": ERRORS, "unhandled": True, "validation": True},
    )
    django.setup()
    serve_until_killed(WSGIHandler())


if __name__ == "__main__":
    main(sys.argv)
