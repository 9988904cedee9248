"""Pydantic models for everything in the SOAJS wire protocol.

All models are frozen, keep unknown fields, and mask secrets; see
:mod:`soajs.models._base` for the rules they share.
"""

from soajs.models._base import (
    FrozenDict,
    JsonMap,
    Secret,
    SecretText,
    SecretValue,
    SoajsModel,
    freeze,
)
from soajs.models.context import (
    Application,
    ContextData,
    Key,
    RegistrySource,
    Tenant,
    TenantRef,
    Urac,
)
from soajs.models.envelope import Envelope, EnvelopeError, EnvelopeErrors, EnvelopeService
from soajs.models.registry import (
    Awareness,
    AwarenessConfig,
    CookieConfig,
    Credentials,
    CustomEntry,
    Database,
    InterConnect,
    KeyConfig,
    Ports,
    Registry,
    RegistryLocation,
    Resource,
    Server,
    ServiceConfig,
    ServiceEntry,
    SessionConfig,
)

# Names the seed and the other middlewares use for the same things.
Service = ServiceEntry
Custom = CustomEntry

__all__ = [
    "Application",
    "Awareness",
    "AwarenessConfig",
    "ContextData",
    "CookieConfig",
    "Credentials",
    "Custom",
    "CustomEntry",
    "Database",
    "Envelope",
    "EnvelopeError",
    "EnvelopeErrors",
    "EnvelopeService",
    "FrozenDict",
    "InterConnect",
    "JsonMap",
    "Key",
    "KeyConfig",
    "Ports",
    "Registry",
    "RegistryLocation",
    "RegistrySource",
    "Resource",
    "Secret",
    "SecretText",
    "SecretValue",
    "Server",
    "Service",
    "ServiceConfig",
    "ServiceEntry",
    "SessionConfig",
    "SoajsModel",
    "Tenant",
    "TenantRef",
    "Urac",
    "freeze",
]
