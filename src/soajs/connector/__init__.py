"""Calling other services: mesh-direct or through the gateway, resiliently.

::

    from soajs.connector import ServiceConnector

    connector = ServiceConnector(context)          # or ServiceConnector() inside a request
    connection = connector.connect("auth-service", version="1")
    httpx.get(f"http://{connection.host}/endpoint", headers=connection.headers)

    answer = connector.get("auth-service", "/endpoint", version="1")  # pooled, retried

Modules: :mod:`~soajs.connector.routing` (pure: context -> Connection),
:mod:`~soajs.connector.transport` (the pooled clients),
:mod:`~soajs.connector.policy` (timeouts, retries),
:mod:`~soajs.connector.breaker` (circuit breakers),
:mod:`~soajs.connector.propagation` (what an outbound call carries over from
the inbound request), :mod:`~soajs.connector.client` (the two connectors).
"""

from soajs.connector.breaker import BreakerPolicy, CircuitBreaker, breakers
from soajs.connector.client import AsyncServiceConnector, ServiceConnector
from soajs.connector.errors import (
    CircuitOpenError,
    ConnectorError,
    NoRouteError,
    ServiceUnavailableError,
)
from soajs.connector.policy import DEFAULT_TIMEOUT, RetryPolicy
from soajs.connector.propagation import inbound
from soajs.connector.routing import Connection
from soajs.connector.transport import aclose, close

__all__ = [
    "DEFAULT_TIMEOUT",
    "AsyncServiceConnector",
    "BreakerPolicy",
    "CircuitBreaker",
    "CircuitOpenError",
    "Connection",
    "ConnectorError",
    "NoRouteError",
    "RetryPolicy",
    "ServiceConnector",
    "ServiceUnavailableError",
    "aclose",
    "breakers",
    "close",
    "inbound",
]
