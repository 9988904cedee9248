"""Django behind the soajs middleware on real werkzeug servers, in a process of its own.

Django's settings are process-global, so the tests run Django here rather than
in the pytest process::

    python -m tests.integration.django_server '[{"trusted_gateways": "*"}, {"strict": true}]'

serves one WSGI handler per option set (``settings.SOAJS``; ``"_threaded":
false`` for a single-threaded server), each on its own loopback port, prints
the ports as one JSON line, and serves until killed.
Routes: ``/whoami`` (the example's view), ``/probe`` (what the request saw),
``/stream`` (a streaming body) and ``/boom`` (raises).
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator

from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.urls import path
from examples.django_app.urls import who

from soajs import current_context
from soajs.middleware import get_soajs_context
from tests.integration.servers import BEFORE, probe_body, wsgi_record_before


def probe(request: HttpRequest) -> JsonResponse:
    ctx = request.soajs
    body = probe_body(ctx, request.META.get(BEFORE))
    body["accessor_is_ctx"] = get_soajs_context(request) is ctx
    body["header_seen"] = "soajsinjectobj" in request.headers
    body["meta_seen"] = "HTTP_SOAJSINJECTOBJ" in request.META
    return JsonResponse(body)


def stream(request: HttpRequest) -> StreamingHttpResponse:
    """A streaming body: produced after the middleware has returned."""

    def chunks() -> Iterator[str]:
        for step in ("start", "later"):
            ctx = current_context()
            yield f"{step}={'none' if ctx is None else ctx.tenant.code};"

    return StreamingHttpResponse(chunks())


def boom(request: HttpRequest) -> JsonResponse:
    raise RuntimeError("handler failed")


urlpatterns = [
    path("whoami", who),
    path("probe", probe),
    path("stream", stream),
    path("boom", boom),
]


def main(argv: list[str]) -> None:
    import django
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from werkzeug.serving import make_server

    settings.configure(
        DEBUG=False,
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF="tests.integration.django_server",
        INSTALLED_APPS=[],
        MIDDLEWARE=["soajs.contrib.django.SOAJSMiddleware"],
        DATABASES={},
        SECRET_KEY="tests-only",
        USE_TZ=True,
        SOAJS={},
    )
    django.setup()
    servers = []
    for options in json.loads(argv[1]):
        threaded = options.pop("_threaded", True)  # False: one thread serves every request
        settings.SOAJS = options  # read by the middleware when the handler is built
        app = wsgi_record_before(WSGIHandler())
        servers.append(make_server("127.0.0.1", 0, app, threaded=threaded))
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps([server.server_port for server in servers]), flush=True)
    threading.Event().wait()  # until the test kills the process


if __name__ == "__main__":
    main(sys.argv)
