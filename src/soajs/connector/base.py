"""What both connectors share: settings, routing (``connect``), the start of a call."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import httpx

from soajs.connector.body import DEFAULT_MAX_RESPONSE_BYTES
from soajs.connector.breaker import BreakerPolicy
from soajs.connector.call import UNSET, Call, timeout_seconds
from soajs.connector.deadline import check_seconds
from soajs.connector.errors import NoRouteError, describe
from soajs.connector.policy import DEFAULT_TIMEOUT, RetryPolicy
from soajs.connector.propagation import current_inbound
from soajs.connector.routing import (
    Connection,
    RouteTable,
    gateway_table,
    normalize_version,
    route_for_context,
)
from soajs.context.current import current_context
from soajs.observability.instrument import no_route

if TYPE_CHECKING:
    from soajs.models.context import ContextData
    from soajs.models.registry import Awareness

__all__ = ["AwarenessSource", "BaseConnector"]

#: One shared default, so the breaker registry's policy check is an identity test.
_DEFAULT_BREAKER = BreakerPolicy()


class AwarenessSource(Protocol):
    """Anything with the registry's ``awareness`` (a RegistryManager, a Registry)."""

    @property
    def awareness(self) -> Awareness | None: ...


def _outside_request(name: str, version: str | int | None, why: str) -> NoRouteError:
    normalized = normalize_version(version)
    return NoRouteError(
        f"cannot call {describe(name, normalized)} outside a request: {why}",
        service=name,
        version=normalized,
    )


class BaseConnector:
    """Routing and settings shared by both connectors (see :class:`ServiceConnector`)."""

    def __init__(
        self,
        context: ContextData | None = None,
        *,
        registry: AwarenessSource | None = None,
        tenant_key: str | None = None,
        timeout: httpx.Timeout | float | None = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        breaker: BreakerPolicy | None = None,
        deadline: float | None = UNSET,
        attempt_deadline: float | None = UNSET,
        max_response_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self.context = context
        self.registry = registry
        self.tenant_key = tenant_key
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self.retry = retry or RetryPolicy()
        self.breaker = breaker or _DEFAULT_BREAKER
        #: Wall-clock seconds for one attempt (``None``: only the call's deadline bounds it).
        self.attempt_deadline: float | None = check_seconds(
            "attempt_deadline", None if attempt_deadline is UNSET else attempt_deadline
        )
        #: Was ``deadline`` given? If not, a call's ``timeout=`` also sets its deadline.
        self.deadline_given = deadline is not UNSET
        #: Wall-clock seconds for a whole call; default: the largest value of ``timeout`` (10 s).
        self.deadline: float | None = check_seconds(
            "deadline", timeout_seconds(self.timeout) if deadline is UNSET else deadline
        )
        if max_response_bytes is not None and max_response_bytes < 0:
            raise ValueError(f"max_response_bytes must be >= 0 or None, got {max_response_bytes}")
        #: The cap on a buffered answer's body, in bytes (``None``: no cap).
        self.max_response_bytes = max_response_bytes
        self._background: tuple[Awareness, RouteTable] | None = None

    def connect(self, name: str, version: str | int | None = None) -> Connection:
        """Where a call to ``name`` (``version``, or the latest) goes, and with which headers.

        Mesh-direct when the request's ``awareness.interConnect`` lists it,
        else through the gateway. Raises :class:`NoRouteError` when neither is possible.
        """
        context = self.context
        if context is None:
            context = current_context()
        if context is not None:
            connection = route_for_context(context, name, version)
        else:
            connection = self._background_route(name, version)
        inbound = current_inbound(context)
        if inbound is not None:
            return connection.with_inbound(inbound)
        return connection

    def _background_route(self, name: str, version: str | int | None) -> Connection:
        if self.registry is None:
            raise _outside_request(
                name, version, "there is no request context; pass registry= (the "
                "RegistryManager) and tenant_key= so the call can go through the gateway"
            )  # fmt: skip
        if not self.tenant_key:
            raise _outside_request(
                name, version, "pass tenant_key= (the tenant's external key) to call through "
                "the gateway"
            )  # fmt: skip
        try:
            awareness = self.registry.awareness
        except Exception as exc:  # RegistryNotLoadedError and friends
            raise _outside_request(
                name, version, f"the registry has no gateway address yet ({exc})"
            ) from exc
        cached = self._background
        if cached is not None and cached[0] is awareness:
            return cached[1].route(name, version)
        table = gateway_table(awareness, self.tenant_key)
        if table is None or awareness is None:
            raise _outside_request(
                name, version, "the registry's awareness has no gateway host and port"
            )
        self._background = (awareness, table)
        return table.route(name, version)

    def _start(
        self,
        name: str,
        method: str,
        path: str,
        version: str | int | None,
        idempotent: bool | None,
        kwargs: dict[str, Any],
        streaming: bool = False,
    ) -> Call:
        try:
            connection = self.connect(name, version)
        except NoRouteError:
            no_route(name)  # soajs_connector_calls_total{route="none", outcome="no_route"}
            raise
        return Call(self, connection, method, path, idempotent, kwargs, streaming=streaming)
