"""Calling other services: mesh-direct or through the gateway, resiliently.

::

    from soajs.connector import ServiceConnector

    connector = ServiceConnector(context)          # or ServiceConnector() inside a request
    connection = connector.connect("auth-service", version="1")
    httpx.get(f"http://{connection.host}/endpoint", headers=connection.headers)

    answer = connector.get("auth-service", "/endpoint", version="1")  # pooled, retried

    with connector.stream("reports", "GET", "/export") as answer:   # large answers
        for chunk in answer.iter_bytes(): ...

Modules: :mod:`~soajs.connector.routing` (pure: context -> Connection),
:mod:`~soajs.connector.transport` (the pooled clients, one per loop, closed with it),
:mod:`~soajs.connector.policy` (timeouts, retries),
:mod:`~soajs.connector.deadline` (wall-clock deadlines per call and per attempt),
:mod:`~soajs.connector.body` (the size cap, streamed bodies),
:mod:`~soajs.connector.redirects` (credentials never follow a redirect to another origin),
:mod:`~soajs.connector.breaker` (circuit breakers: ``breakers.snapshot()``, ``.reset()``),
:mod:`~soajs.connector.storm` (WARNING lines bounded across targets),
:mod:`~soajs.connector.propagation` (what an outbound call carries over from
the inbound request), :mod:`~soajs.connector.call` (one call's decisions),
:mod:`~soajs.connector.base` and :mod:`~soajs.connector.client` (the two connectors),
:mod:`~soajs.connector.envelope` (``unwrap``: a SOAJS envelope's data, or its errors).
"""

from soajs.connector.body import DEFAULT_MAX_RESPONSE_BYTES
from soajs.connector.breaker import BreakerPolicy, BreakerState, CircuitBreaker, breakers
from soajs.connector.client import AsyncServiceConnector, ServiceConnector
from soajs.connector.deadline import deadline_transport
from soajs.connector.envelope import unwrap
from soajs.connector.errors import (
    CircuitOpenError,
    ConnectorError,
    DeadlineExceededError,
    InvalidCallError,
    InvalidEnvelopeError,
    NoRouteError,
    ResponseTooLargeError,
    ServiceError,
    ServiceUnavailableError,
)
from soajs.connector.policy import DEFAULT_TIMEOUT, RetryPolicy
from soajs.connector.propagation import inbound
from soajs.connector.routing import Connection
from soajs.connector.transport import aclose, close

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_TIMEOUT",
    "AsyncServiceConnector",
    "BreakerPolicy",
    "BreakerState",
    "CircuitBreaker",
    "CircuitOpenError",
    "Connection",
    "ConnectorError",
    "DeadlineExceededError",
    "InvalidCallError",
    "InvalidEnvelopeError",
    "NoRouteError",
    "ResponseTooLargeError",
    "RetryPolicy",
    "ServiceConnector",
    "ServiceError",
    "ServiceUnavailableError",
    "aclose",
    "breakers",
    "close",
    "deadline_transport",
    "inbound",
    "unwrap",
]
