"""A WSGI service for the multi-worker reload test (run by gunicorn ``-w 2``).

Each worker builds its own RegistryManager at import (no ``--preload``) from
``SOAJS_*`` and answers ``/state`` with its pid and the registry's greeting.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from soajs import RegistryManager
from soajs.middleware import SOAJSWSGIMiddleware

registry = RegistryManager("hello")


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    time.sleep(0.05)  # hold the worker a moment, so concurrent requests spread over both
    body = json.dumps(
        {"pid": os.getpid(), "greeting": registry.get_custom("greeting").value["text"]}
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


application = SOAJSWSGIMiddleware(app, registry, maintenance_listener=False, trusted_gateways="*")
