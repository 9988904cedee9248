"""Django with the soajs middleware on a real werkzeug server, an OpenTelemetry SDK
configured, in a process of its own (Django's settings are process-global)::

    python -m tests.observability.django_server

prints its port as one JSON line and serves until killed. ``/ctx`` makes a
span and a log record and answers what they carried.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import path

from soajs.observability import SoajsContextFilter
from tests.integration.servers import serve_until_killed

SEEN: list[logging.LogRecord] = []


class _Keep(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        SEEN.append(record)


def ctx(request: HttpRequest) -> JsonResponse:
    from opentelemetry import trace

    with trace.get_tracer("test").start_as_current_span("view") as span:
        logging.getLogger("test.django").info("in the view")
        record = SEEN.pop()
        parent = getattr(span, "parent", None)
        return JsonResponse(
            {
                "trace_id": f"{span.get_span_context().trace_id:032x}",
                "parent": f"{parent.span_id:016x}" if parent is not None else "",
                "tenant": getattr(record, "soajs_tenant", None),
                "request_id": getattr(record, "soajs_request_id", None),
                "log_trace_id": getattr(record, "soajs_trace_id", None),
            }
        )


urlpatterns = [path("ctx", ctx)]


def main(argv: list[str]) -> Any:
    import django
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    from tests.observability import django_server  # the URLconf's copy, not __main__

    trace.set_tracer_provider(TracerProvider())
    handler = django_server._Keep()
    handler.addFilter(SoajsContextFilter())
    log = logging.getLogger("test.django")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    settings.configure(
        DEBUG="--debug" in argv,
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF="tests.observability.django_server",
        INSTALLED_APPS=[],
        MIDDLEWARE=["soajs.contrib.django.SOAJSMiddleware"],
        DATABASES={},
        SECRET_KEY="tests-only",
        USE_TZ=True,
        SOAJS={"trusted_gateways": "*", "health": False, "metrics_on_service_port": True},
    )
    django.setup()
    serve_until_killed(WSGIHandler())


if __name__ == "__main__":
    main(sys.argv)
