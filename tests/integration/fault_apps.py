"""Apps for the fault tests, run by real servers in child processes.

``uvicorn tests.integration.fault_apps:asgi``, ``gunicorn tests.integration.fault_apps:wsgi``.
Configured by the environment: the library's ``SOAJS_*`` variables, and

``TEST_SERVICE_PORT``
    the port of the service's Config (the server's port; default 4381)
``TEST_MAINTENANCE_PORT``
    a custom maintenance port (default: port + maintenanceInc)
``TEST_START_DEGRADED``
    ``1``: the RegistryManager starts degraded
``TEST_LOG``
    a file for the ``soajs`` loggers (INFO); default: none configured
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from fastapi import FastAPI
from flask import Flask

from soajs import Config, RegistryManager
from soajs.contrib.fastapi import setup
from soajs.contrib.flask import SOAJS

if os.environ.get("TEST_LOG"):
    handler = logging.FileHandler(os.environ["TEST_LOG"])
    handler.setFormatter(logging.Formatter("%(process)d %(levelname)s %(name)s: %(message)s"))
    soajs_logger = logging.getLogger("soajs")
    soajs_logger.addHandler(handler)
    soajs_logger.setLevel(logging.INFO)


def _config() -> Config:
    maintenance: dict[str, Any] = {"readiness": "/ready"}
    if os.environ.get("TEST_MAINTENANCE_PORT"):
        maintenance["port"] = {"type": "custom", "value": int(os.environ["TEST_MAINTENANCE_PORT"])}
    return Config(
        name="hello",
        group="Faults",
        port=int(os.environ.get("TEST_SERVICE_PORT", "4381")),
        maintenance=maintenance,
    )


def _registry(autostart: bool) -> RegistryManager:
    return RegistryManager(
        "hello",
        config=_config(),
        autostart=autostart,
        start_degraded=os.environ.get("TEST_START_DEGRADED") == "1",
        max_backoff=0.5,
    )


def _make_asgi() -> FastAPI:
    app = FastAPI()
    setup(app, registry=_registry(autostart=False), trusted_gateways="*")

    @app.get("/pid")
    async def pid() -> dict[str, int]:
        return {"pid": os.getpid()}

    @app.get("/block")
    async def block(seconds: float = 3.0) -> dict[str, float]:
        time.sleep(seconds)  # a handler that blocks the event loop (the bug being probed)
        return {"slept": seconds}

    return app


def _make_wsgi() -> Flask:
    app = Flask(__name__)
    SOAJS(app, registry=_registry(autostart=True), trusted_gateways="*")

    @app.get("/pid")
    def pid() -> dict[str, int]:
        return {"pid": os.getpid()}

    @app.get("/threads")
    def threads() -> dict[str, Any]:
        return {"pid": os.getpid(), "threads": [t.name for t in threading.enumerate()]}

    return app


def __getattr__(name: str) -> Any:  # build only the app the server asks for
    if name == "asgi":
        return _make_asgi()
    if name == "wsgi":
        return _make_wsgi()
    raise AttributeError(name)
