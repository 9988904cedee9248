"""Observability: Prometheus metrics, OpenTelemetry spans, correlated logs, hooks.

Both backends are optional extras: ``soajs-python[metrics]``
(``prometheus-client``) and ``soajs-python[otel]`` (``opentelemetry-api``).
Without them the library keeps its counts in plain integers (``/metrics``
answers 501 saying what to install) and creates no span. See
docs/observability.md.

* `install_logging` - one line: tenant, request id and trace id on
  every record made during a request;
* `register_collector` - the SOAJS families in your own
  ``prometheus_client`` registry;
* `metrics_answer` - what ``/metrics`` answers;
* `on_reload`, `on_breaker_change` - event hooks.
"""

from __future__ import annotations

from typing import Any

from soajs.observability.hooks import (
    BreakerEvent,
    ReloadEvent,
    clear_hooks,
    on_breaker_change,
    on_reload,
)
from soajs.observability.logs import (
    LibraryTrafficFilter,
    SoajsContextFilter,
    install_logging,
    quiet_library_httpx,
)

__all__ = [
    "BreakerEvent",
    "LibraryTrafficFilter",
    "ReloadEvent",
    "SoajsCollector",
    "SoajsContextFilter",
    "clear_hooks",
    "install_logging",
    "metrics_answer",
    "on_breaker_change",
    "on_reload",
    "register_collector",
]

quiet_library_httpx()


def __getattr__(name: str) -> Any:
    # the exporter imports the registry package: loaded on first use only
    if name in ("SoajsCollector", "metrics_answer", "register_collector"):
        from soajs.observability import export

        return getattr(export, name)
    raise AttributeError(name)
