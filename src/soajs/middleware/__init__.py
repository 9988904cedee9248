"""The middlewares (the seed's import path).

``SOAJSMiddleware`` (ASGI), ``SOAJSWSGIMiddleware`` (WSGI) and
``get_soajs_context``; the ASGI and WSGI adapters are thin shells over the one
parsing core in :mod:`soajs.context`.
"""

from soajs.connector import (
    AsyncServiceConnector,
    CircuitOpenError,
    Connection,
    ConnectorError,
    NoRouteError,
    ServiceConnector,
    ServiceUnavailableError,
)
from soajs.middleware.accessors import ENVIRON_KEY, get_soajs_context
from soajs.middleware.asgi import SOAJSMiddleware
from soajs.middleware.health import HealthEndpoints
from soajs.middleware.listener import MaintenanceListener
from soajs.middleware.wsgi import SOAJSWSGIMiddleware

__all__ = [
    "ENVIRON_KEY",
    "AsyncServiceConnector",
    "CircuitOpenError",
    "Connection",
    "ConnectorError",
    "HealthEndpoints",
    "MaintenanceListener",
    "NoRouteError",
    "SOAJSMiddleware",
    "SOAJSWSGIMiddleware",
    "ServiceConnector",
    "ServiceUnavailableError",
    "get_soajs_context",
]
