"""soajs-python: the SOAJS service-mesh sidecar middleware for Python web apps.

The public surface::

    from soajs import RegistryManager, Config
    from soajs.middleware import SOAJSMiddleware, SOAJSWSGIMiddleware, get_soajs_context
    from soajs.models import Registry, Database, ContextData, Tenant, Urac
"""

from soajs.config import Config
from soajs.connector import (
    AsyncServiceConnector,
    CircuitOpenError,
    Connection,
    ConnectorError,
    DeadlineExceededError,
    NoRouteError,
    ResponseTooLargeError,
    ServiceConnector,
    ServiceUnavailableError,
)
from soajs.context import current_context
from soajs.errors import (
    ConfigurationError,
    ControlPlaneError,
    CoreDatabaseNotFoundError,
    CustomNotFoundError,
    DatabaseConfigError,
    DatabaseNotFoundError,
    NotFoundError,
    RegistryError,
    RegistryNotLoadedError,
    RegistryTimeoutError,
    ResourceNotFoundError,
    ServiceNotFoundError,
    SoajsError,
    TenantCodeError,
    TenantDatabaseNotFoundError,
)
from soajs.registry import RegistryClient, RegistryManager
from soajs.settings import Settings

__version__ = "0.1.0"

__all__ = [
    "AsyncServiceConnector",
    "CircuitOpenError",
    "Config",
    "ConfigurationError",
    "Connection",
    "ConnectorError",
    "ControlPlaneError",
    "CoreDatabaseNotFoundError",
    "CustomNotFoundError",
    "DatabaseConfigError",
    "DatabaseNotFoundError",
    "DeadlineExceededError",
    "NoRouteError",
    "NotFoundError",
    "RegistryClient",
    "RegistryError",
    "RegistryManager",
    "RegistryNotLoadedError",
    "RegistryTimeoutError",
    "ResourceNotFoundError",
    "ResponseTooLargeError",
    "ServiceConnector",
    "ServiceNotFoundError",
    "ServiceUnavailableError",
    "Settings",
    "SoajsError",
    "TenantCodeError",
    "TenantDatabaseNotFoundError",
    "__version__",
    "current_context",
]
