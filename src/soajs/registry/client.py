"""``RegistryClient``: the HTTP calls a service makes to its control plane.

It speaks the envelope of PROTOCOL.md. Every failure (transport error,
timeout, non-2xx status, a body that is not JSON, ``result: false``, a
non-empty ``errors.details``, a ``data`` that is not a registry) raises one
type, :class:`~soajs.errors.ControlPlaneError`, carrying the control plane's
own message or the transport's.
"""

from __future__ import annotations

import json
import logging
from types import TracebackType
from typing import Any, Literal

import httpx
from pydantic import ValidationError

from soajs.errors import ControlPlaneError
from soajs.models.envelope import Envelope
from soajs.models.registry import Registry

__all__ = ["DEFAULT_TIMEOUT", "RegistryClient", "ServiceType"]

logger = logging.getLogger("soajs.registry")

ServiceType = Literal["service", "daemon"]

#: Seconds for each control-plane call (connect, read, write, pool).
DEFAULT_TIMEOUT = 5.0


class RegistryClient:
    """A small synchronous client for the control plane's maintenance API.

    ``base_url`` is ``http://host:port`` (see :attr:`soajs.settings.Settings.registry_url`).
    One pooled ``httpx.Client`` is reused for every call; close it with
    :meth:`close` or use the client as a context manager.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout),
            transport=transport,
            headers={"accept": "application/json", "user-agent": "soajs-python"},
            trust_env=False,
        )

    # -- API --------------------------------------------------------------
    def get_registry(
        self, env: str, service_name: str, service_type: ServiceType = "service"
    ) -> Registry:
        """``GET /getRegistry``: the registry of ``env`` filtered for ``service_name``."""
        params = {"env": env.lower(), "serviceName": service_name, "type": service_type}
        data, status = self._call_with_status("GET", "/getRegistry", params=params)
        if not isinstance(data, dict):
            raise ControlPlaneError(
                f"data is not a registry object (got {type(data).__name__})",
                route="/getRegistry",
                status=status,
            )
        try:
            return Registry.model_validate(data)
        except RecursionError:
            raise ControlPlaneError(
                "the registry is nested too deeply", route="/getRegistry", status=status
            ) from None
        except ValidationError as exc:
            raise ControlPlaneError(
                f"the registry does not have the expected shape: {_first_problem(exc)}",
                route="/getRegistry",
                status=status,
            ) from None

    def register(self, body: dict[str, Any]) -> Any:
        """``POST /register`` (manual deployment); returns the envelope's ``data``."""
        return self._call("POST", "/register", json=body)

    def heartbeat(self) -> bool:
        """``GET /heartbeat``: True when the control plane answers with ``result: true``."""
        self._call("GET", "/heartbeat")
        return True

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the envelope -----------------------------------------------------
    def _call(self, method: str, route: str, **kwargs: Any) -> Any:
        return self._call_with_status(method, route, **kwargs)[0]

    def _call_with_status(self, method: str, route: str, **kwargs: Any) -> tuple[Any, int]:
        try:
            response = self._http.request(method, route, **kwargs)
        except httpx.TimeoutException as exc:
            raise ControlPlaneError(
                f"no answer from {self.base_url} within {self.timeout:g}s ({type(exc).__name__})",
                route=route,
            ) from exc
        except httpx.HTTPError as exc:
            raise ControlPlaneError(
                f"cannot reach {self.base_url}: {str(exc) or type(exc).__name__}", route=route
            ) from exc
        return parse_envelope(response, route), response.status_code


def parse_envelope(response: httpx.Response, route: str) -> Any:
    """Return ``data`` of a successful envelope or raise :class:`ControlPlaneError`."""
    status = response.status_code
    try:
        payload = json.loads(response.content)
    except (ValueError, RecursionError):
        kind = response.headers.get("content-type", "no content type")
        raise ControlPlaneError(
            f"answered with a body that is not JSON ({kind}, {len(response.content)} bytes)",
            route=route,
            status=status,
        ) from None
    if not isinstance(payload, dict):
        raise ControlPlaneError(
            f"answered with JSON that is not an envelope ({type(payload).__name__})",
            route=route,
            status=status,
        )
    try:
        envelope = Envelope.model_validate(payload)
    except ValidationError as exc:
        raise ControlPlaneError(
            f"answered with a malformed envelope: {_first_problem(exc)}",
            route=route,
            status=status,
        ) from None
    error = envelope.first_error
    if error is not None:
        raise ControlPlaneError(
            error.message or "error without a message", route=route, code=error.code, status=status
        )
    if not 200 <= status < 300:
        raise ControlPlaneError(f"answered HTTP {status}", route=route, status=status)
    if not envelope.result:
        raise ControlPlaneError(
            "answered result: false without details", route=route, status=status
        )
    return envelope.data


def _first_problem(exc: ValidationError) -> str:
    err = exc.errors(include_url=False, include_input=False)[0]
    loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
    return f"{loc}: {err['msg']}"
