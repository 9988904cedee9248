"""The local control plane's HTTP API: a Starlette app speaking the gateway's envelope.

Modelled on gateway 4.3.4's maintenance server: ``env`` defaults to the
served environment, ``serviceName`` may also be sent as ``name``, and a
failure is HTTP 200 with ``result: false`` (plus ``errors.details`` here).

Routes (PROTOCOL.md, "Control plane API"):

* ``GET /getRegistry?env=ENV&serviceName=NAME&type=service|daemon``
* ``POST /register``
* ``GET /heartbeat``
* ``GET /reloadRegistry``
"""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from soajs.controlplane.store import RegistrationError, RegistryFileError, RegistryStore
from soajs.models.envelope import make_envelope

__all__ = ["create_app"]

logger = logging.getLogger("soajs.controlplane")

SERVICE_NAME = "controller"
VERSION = "local"

# Error codes of the envelope (the gateway's own where it has one).
ERR_REGISTRY = 207  # unable to load the registry
ERR_ENV = 208  # environment not served here
ERR_REGISTER = 210  # registration refused


def _answer(route: str, data: Any = None, *, error: tuple[int, str] | None = None) -> JSONResponse:
    # Like the gateway, a failure is HTTP 200 with result: false; unlike it,
    # errors.details also says why.
    body = make_envelope(
        route,
        data,
        errors=[error] if error else None,
        service=SERVICE_NAME,
        version=VERSION,
    )
    return JSONResponse(body)


def create_app(store: RegistryStore) -> Starlette:
    """The control plane app over ``store``."""

    async def get_registry(request: Request) -> JSONResponse:
        route = "/getRegistry"
        store.count(route)
        env = (request.query_params.get("env") or "").lower()
        # the Node framework sends `name`, the middlewares `serviceName`
        params = request.query_params
        service_name = params.get("serviceName") or params.get("name") or None
        service_type = request.query_params.get("type") or "service"
        try:
            served = store.environment
            if env and env != served:
                return _answer(
                    route,
                    error=(ERR_ENV, f"environment {env!r} is not served here (this is {served!r})"),
                )
            data = store.registry_for(service_name, service_type)
        except RegistryFileError as exc:
            return _answer(route, error=(ERR_REGISTRY, str(exc)))
        return _answer(route, data)

    async def register(request: Request) -> JSONResponse:
        route = "/register"
        store.count(route)
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _answer(route, error=(ERR_REGISTER, "the body is not JSON"))
        try:
            data = store.register(body)
        except RegistrationError as exc:
            return _answer(route, error=(ERR_REGISTER, str(exc)))
        return _answer(route, data)

    async def heartbeat(request: Request) -> JSONResponse:
        return _answer("/heartbeat")

    async def reload_registry(request: Request) -> JSONResponse:
        route = "/reloadRegistry"
        try:
            store.reload()
            data = store.registry_for(None, "all")
        except RegistryFileError as exc:
            return _answer(route, error=(ERR_REGISTRY, str(exc)))
        return _answer(route, data)

    return Starlette(
        routes=[
            Route("/getRegistry", get_registry, methods=["GET"]),
            Route("/register", register, methods=["POST"]),
            Route("/heartbeat", heartbeat, methods=["GET"]),
            Route("/reloadRegistry", reload_registry, methods=["GET"]),
        ]
    )
