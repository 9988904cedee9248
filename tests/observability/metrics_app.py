"""A WSGI service for the multi-worker metrics test (``gunicorn -w 2``).

Each worker builds its own RegistryManager at import; the maintenance listener
(one worker holds it) answers ``/metrics`` on ``TEST_MAINTENANCE_PORT``.
``GET /`` answers the worker's pid after a short pause, so concurrent requests
spread over both workers. ``application`` is the WSGI app (gunicorn),
``asgi`` the ASGI one (``uvicorn --workers 2``; the registry starts in the lifespan).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any

from soajs import Config, RegistryManager
from soajs.middleware import SOAJSMiddleware, SOAJSWSGIMiddleware

_CONFIG = Config(
    name="hello",
    group="Metrics",
    port=int(os.environ.get("TEST_SERVICE_PORT", "4381")),
    maintenance={
        "port": {"type": "custom", "value": int(os.environ.get("TEST_MAINTENANCE_PORT", "5381"))}
    },
)


def __getattr__(name: str) -> Any:  # build only the app the server asks for
    if name == "application":
        registry = RegistryManager("hello", config=_CONFIG, max_backoff=0.5)
        return SOAJSWSGIMiddleware(app, registry, trusted_gateways="*")
    if name == "asgi":
        registry = RegistryManager("hello", config=_CONFIG, autostart=False, max_backoff=0.5)
        return SOAJSMiddleware(asgi_app, registry, trusted_gateways="*")
    raise AttributeError(name)


async def asgi_app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": f"{message['type']}.complete"})
            if message["type"].endswith("shutdown"):
                return
    await asyncio.sleep(0.05)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(os.getpid()).encode()})


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    time.sleep(0.05)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]
