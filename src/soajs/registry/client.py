"""``RegistryClient``: the HTTP calls a service makes to its control plane.

It speaks the envelope of PROTOCOL.md. Every failure (transport error,
timeout, non-2xx status, a body that is not JSON, ``result: false``, a
non-empty ``errors.details``, a ``data`` that is not a registry) raises one
type, :class:`~soajs.errors.ControlPlaneError`, carrying the control plane's
own message or the transport's.

Bounds, whatever the control plane does (see "Under faults" in docs/registry.md):

* **time**: ``timeout`` is a *total* deadline on each exchange (connect,
  send, and the whole answer), not httpx's per-read timeout: a peer that
  trickles one byte a second is cut off at the deadline;
* **memory**: the answer is streamed and refused past ``max_bytes``
  (default 16 MiB, ``SOAJS_REGISTRY_MAX_BYTES``), so no more than that is
  ever held;
* **shape**: JSON nested deeper than :data:`MAX_DEPTH` levels, or with an
  integer longer than Python's limit (4300 digits), is refused by name, not
  as "not JSON".
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
import zlib
from types import TracebackType
from typing import Any, Literal

import httpx
from pydantic import ValidationError

from soajs.context.decode import _too_deep
from soajs.errors import ConfigurationError, ControlPlaneError, RegistryTimeoutError
from soajs.models.envelope import Envelope
from soajs.models.registry import Registry
from soajs.registry.resolver import ResolveTimeout
from soajs.registry.transport import (
    DEFAULT_MAX_BYTES,
    AnswerTooLarge,
    DeadlineTransport,
    UnsupportedEncoding,
    deadline,
    describe_size,
    read_capped,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_TIMEOUT",
    "MAX_DEPTH",
    "RegistryClient",
    "ServiceType",
    "parse_envelope",
]

logger = logging.getLogger("soajs.registry")

ServiceType = Literal["service", "daemon"]

#: Seconds for each control-plane exchange, in total (connect, send, the whole answer).
DEFAULT_TIMEOUT = 5.0

#: Deepest nesting accepted in an answer (a real registry is about 8 deep;
#: ``custom`` values are free-form, hence the room).
MAX_DEPTH = 128


class RegistryClient:
    """A small synchronous client for the control plane's maintenance API.

    ``base_url`` is ``http://host:port`` (see :attr:`soajs.settings.Settings.registry_url`).
    ``timeout`` bounds each exchange as a whole; ``max_bytes`` caps each
    answer. One pooled ``httpx.Client`` is reused for every call (it is
    thread-safe); close it with :meth:`close` or use the client as a context
    manager. A custom ``transport`` (tests) keeps the cap and httpx's
    per-operation timeouts but not the total deadline. Setting ``cancel``
    (an event) ends an exchange in flight within a quarter of a second.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_bytes: int = DEFAULT_MAX_BYTES,
        transport: httpx.BaseTransport | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
            raise ConfigurationError(f"max_bytes must be a positive integer, got {max_bytes!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.cancel = cancel
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout),
            transport=transport if transport is not None else DeadlineTransport(),
            headers={
                "accept": "application/json",
                "accept-encoding": "identity",
                "user-agent": "soajs-python",
            },
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
                f"the registry is nested deeper than {MAX_DEPTH} levels",
                route="/getRegistry",
                status=status,
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
        started = time.monotonic()
        try:
            with (
                deadline(self.timeout, self.cancel),
                self._http.stream(method, route, **kwargs) as response,
            ):
                content = read_capped(response, self.max_bytes)
        except httpx.TimeoutException as exc:
            took = time.monotonic() - started
            raise RegistryTimeoutError(
                f"no answer from {self.base_url} within {self.timeout:g}s: "
                f"{_timed_out(exc)} (gave up after {took:.1f}s)",
                route=route,
            ) from exc
        except httpx.HTTPError as exc:
            raise ControlPlaneError(
                f"cannot reach {self.base_url}: {str(exc) or type(exc).__name__}", route=route
            ) from exc
        except AnswerTooLarge as exc:
            size = "" if exc.size is None else f" ({exc.size} bytes announced)"
            raise ControlPlaneError(
                f"answer larger than the {describe_size(exc.cap)} cap{size}; refused "
                "(raise it with SOAJS_REGISTRY_MAX_BYTES / max_bytes)",
                route=route,
                status=response.status_code,
            ) from None
        except UnsupportedEncoding as exc:
            raise ControlPlaneError(
                f"answered with {exc}", route=route, status=response.status_code
            ) from None
        except (zlib.error, ValueError, UnicodeError) as exc:  # any other decoding failure
            raise ControlPlaneError(
                f"answered with a body that cannot be decoded ({type(exc).__name__}: {exc})",
                route=route,
            ) from None
        return parse_answer(content, response, route), response.status_code


_PHASES = {
    httpx.ConnectTimeout: "connecting timed out",
    httpx.WriteTimeout: "sending the request timed out",
    httpx.ReadTimeout: "reading the answer timed out",
    httpx.PoolTimeout: "waiting for a pooled connection timed out",
}


def _timed_out(exc: httpx.TimeoutException) -> str:
    """Which phase of the exchange ran out of time (name resolution says so itself)."""
    if isinstance(exc.__cause__, ResolveTimeout):
        return str(exc.__cause__)
    name = type(exc).__name__
    phase = _PHASES.get(type(exc))
    return f"{phase} ({name})" if phase else name


def parse_envelope(response: httpx.Response, route: str) -> Any:
    """Return ``data`` of a successful (read) envelope or raise :class:`ControlPlaneError`."""
    return parse_answer(response.content, response, route)


def _decode(content: bytes, response: httpx.Response, route: str) -> Any:
    status = response.status_code
    try:
        payload = json.loads(content)
    except RecursionError:
        payload = None  # the depth check below says how deep
    except ValueError as exc:
        if not isinstance(exc, json.JSONDecodeError) and "integer string conversion" in str(exc):
            raise ControlPlaneError(
                f"answered with an integer too long (over {sys.get_int_max_str_digits()} digits)",
                route=route,
                status=status,
            ) from None
        kind = response.headers.get("content-type", "no content type")
        raise ControlPlaneError(
            f"answered with a body that is not JSON ({kind}, {len(content)} bytes)",
            route=route,
            status=status,
        ) from None
    else:
        if content.count(b"{") + content.count(b"[") <= MAX_DEPTH or not _too_deep(
            content, MAX_DEPTH
        ):
            return payload
    raise ControlPlaneError(
        f"answered with JSON nested deeper than {MAX_DEPTH} levels", route=route, status=status
    )


def parse_answer(content: bytes, response: httpx.Response, route: str) -> Any:
    """``data`` of the envelope ``content`` (the body of ``response``), or a ControlPlaneError."""
    status = response.status_code
    payload = _decode(content, response, route)
    if not isinstance(payload, dict):
        raise ControlPlaneError(
            f"answered with JSON that is not an envelope ({type(payload).__name__})",
            route=route,
            status=status,
        )
    try:
        envelope = Envelope.model_validate(payload)
    except RecursionError:
        raise ControlPlaneError(
            f"answered with JSON nested deeper than {MAX_DEPTH} levels", route=route, status=status
        ) from None
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
