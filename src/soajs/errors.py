"""The exception types users of soajs-python catch.

Everything raised on purpose by this library derives from :class:`SoajsError`.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "ControlPlaneError",
    "CustomNotFoundError",
    "DatabaseNotFoundError",
    "NotFoundError",
    "RegistryError",
    "RegistryNotLoadedError",
    "RegistryTimeoutError",
    "ResourceNotFoundError",
    "ServiceNotFoundError",
    "SoajsError",
]


class SoajsError(Exception):
    """Base class of every error soajs-python raises on purpose."""


class ConfigurationError(SoajsError, ValueError):
    """A setting or a service configuration is missing or invalid.

    The message names the setting, the value and what was expected, e.g.
    ``SOAJS_REGISTRY_API must be host:port, got 'localhost'``.
    """


class RegistryError(SoajsError):
    """The registry could not be loaded or a registration failed."""


class ControlPlaneError(RegistryError):
    """A control-plane call failed.

    ``message`` is what the control plane said (the first ``errors.details``
    message) or what the transport said; ``code`` is the SOAJS error code when
    there is one, ``status`` the HTTP status when an answer came back, and
    ``route`` the control-plane route that was called.
    """

    def __init__(
        self,
        message: str,
        *,
        route: str,
        code: int | None = None,
        status: int | None = None,
    ) -> None:
        self.message = message
        self.route = route
        self.code = code
        self.status = status
        parts = [f"control plane {route}: {message}"]
        if code is not None:
            parts.append(f"(code {code})")
        if status is not None:
            parts.append(f"[HTTP {status}]")
        super().__init__(" ".join(parts))


class RegistryTimeoutError(ControlPlaneError, TimeoutError):
    """The control plane did not answer in time: an exchange passed its total
    deadline (``SOAJS_REGISTRY_TIMEOUT``), or ``reload(timeout=...)`` ended its
    wait while the reload goes on. Also a :class:`TimeoutError`."""


class RegistryNotLoadedError(RegistryError):
    """The registry has not been loaded yet (a degraded start still waiting)."""


class NotFoundError(SoajsError, LookupError):
    """A registry lookup found nothing under that name."""

    kind = "entry"

    def __init__(self, name: str, available: list[str] | None = None) -> None:
        self.name = name
        self.available = sorted(available or [])
        hint = f"; known: {', '.join(self.available)}" if self.available else ""
        super().__init__(f"{self.kind} not found in the registry: {name!r}{hint}")


class DatabaseNotFoundError(NotFoundError):
    """No ``coreDB`` or ``tenantMetaDB`` entry with that name."""

    kind = "database"


class ServiceNotFoundError(NotFoundError):
    """No ``services`` entry with that name."""

    kind = "service"


class ResourceNotFoundError(NotFoundError):
    """No ``resources`` entry with that name."""

    kind = "resource"


class CustomNotFoundError(NotFoundError):
    """No ``custom`` entry with that name."""

    kind = "custom entry"


# -- tenant data (soajs.databases) --------------------------------------------
__all__ += [
    "CoreDatabaseNotFoundError",
    "DatabaseConfigError",
    "TenantCodeError",
    "TenantDatabaseNotFoundError",
]


class DatabaseConfigError(SoajsError, ValueError):
    """A registry database entry cannot be used as it is: a bad ``servers`` entry
    (missing host, port outside 1-65535, empty list, ``mongodb+srv`` with several
    hosts), an unknown ``protocol``, an option that is not one, an invalid name.

    The message names the problem and never carries a credential.
    """


class TenantCodeError(DatabaseConfigError):
    """A tenant database needs a usable tenant code: the entry's name holds
    ``#TENANT_NAME#`` and no tenant was given, or the code holds anything but
    letters, digits, ``_`` and ``-``."""


class TenantDatabaseNotFoundError(DatabaseNotFoundError):
    """No ``tenantMetaDB`` entry with that name."""

    kind = "tenant database (tenantMetaDB)"


class CoreDatabaseNotFoundError(DatabaseNotFoundError):
    """No ``coreDB`` entry with that name."""

    kind = "core database (coreDB)"
