"""A WSGI service for the multi-worker metrics test (``gunicorn -w 2``).

Each worker builds its own RegistryManager at import; the maintenance listener
(one worker holds it) answers ``/metrics`` on ``TEST_MAINTENANCE_PORT``.
``GET /`` answers the worker's pid after a short pause, so concurrent requests
spread over both workers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from soajs import Config, RegistryManager
from soajs.middleware import SOAJSWSGIMiddleware

_CONFIG = Config(
    name="hello",
    group="Metrics",
    port=int(os.environ.get("TEST_SERVICE_PORT", "4381")),
    maintenance={
        "port": {"type": "custom", "value": int(os.environ.get("TEST_MAINTENANCE_PORT", "5381"))}
    },
)
registry = RegistryManager("hello", config=_CONFIG, max_backoff=0.5)


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    time.sleep(0.05)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]


application = SOAJSWSGIMiddleware(app, registry, trusted_gateways="*")
