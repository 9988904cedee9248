"""The registry: the HTTP client to the control plane and the manager that keeps it fresh."""

from soajs.registry.client import RegistryClient, ServiceType
from soajs.registry.manager import RegistryManager
from soajs.registry.offline import OfflineRegistryManager
from soajs.registry.reloads import ReloadOutcome, ReloadTicket

__all__ = [
    "OfflineRegistryManager",
    "RegistryClient",
    "RegistryManager",
    "ReloadOutcome",
    "ReloadTicket",
    "ServiceType",
]
