"""A service whose workers say who they are and whether they have a registry.

``gunicorn tests.integration.respawn_app:wsgi`` (the registry loads at import,
as a Flask/Django app does) and ``uvicorn tests.integration.respawn_app:asgi``
(it loads in the lifespan). ``GET /state``: ``{"pid", "ready"}``. The
environment: ``SOAJS_*``, ``TEST_SERVICE_PORT`` and ``TEST_LOG`` (a file for
the ``soajs`` loggers, with the pid of each line).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any

from soajs import Config, RegistryManager
from soajs.middleware import SOAJSMiddleware, SOAJSWSGIMiddleware

if os.environ.get("TEST_LOG"):
    _handler = logging.FileHandler(os.environ["TEST_LOG"])
    _handler.setFormatter(logging.Formatter("%(process)d %(levelname)s %(name)s: %(message)s"))
    logging.getLogger("soajs").addHandler(_handler)
    logging.getLogger("soajs").setLevel(logging.INFO)

_CONFIG = Config(
    name="hello",
    group="Respawn",
    port=int(os.environ.get("TEST_SERVICE_PORT", "4381")),
    maintenance={"readiness": "/ready"},
)


def _state(registry: RegistryManager) -> bytes:
    return json.dumps({"pid": os.getpid(), "ready": registry.is_ready}).encode()


def _make_wsgi() -> SOAJSWSGIMiddleware:
    registry = RegistryManager("hello", config=_CONFIG, max_backoff=0.5)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = _state(registry)
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]

    return SOAJSWSGIMiddleware(app, registry, trusted_gateways="*")


def _make_asgi() -> SOAJSMiddleware:
    registry = RegistryManager("hello", config=_CONFIG, autostart=False, max_backoff=0.5)

    async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].rsplit(".", 1)[-1]
                await send({"type": f"{message['type']}.complete"})
                if kind == "shutdown":
                    return
        body = _state(registry)
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return SOAJSMiddleware(app, registry, trusted_gateways="*")


def __getattr__(name: str) -> Any:  # build only the app the server asks for
    if name == "asgi":
        return _make_asgi()
    if name == "wsgi":
        return _make_wsgi()
    raise AttributeError(name)
