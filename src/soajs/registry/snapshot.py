"""Per-snapshot lookup indexes, built once per registry load.

The request path reads the registry through these indexes; they are plain
dicts built when a snapshot is published, so a read is one C-level dict
lookup with no lock and no Python frame. A miss raises the library's
``*NotFoundError`` (which is also a ``LookupError``) naming what is known.
"""

from __future__ import annotations

from typing import Any, NoReturn

from soajs.errors import DatabaseNotFoundError, NotFoundError, ServiceNotFoundError
from soajs.models.registry import Database, Registry, ServiceEntry

__all__ = ["DatabaseIndex", "ServiceIndex", "Snapshot"]


class _Index(dict[str, Any]):
    __slots__ = ()
    error: type[NotFoundError] = NotFoundError

    def __missing__(self, name: str) -> NoReturn:
        raise self.error(name, list(self))


class DatabaseIndex(_Index):
    """``coreDB`` and ``tenantMetaDB`` entries by name (core first)."""

    __slots__ = ()
    error = DatabaseNotFoundError


class ServiceIndex(_Index):
    """``services`` entries by name."""

    __slots__ = ()
    error = ServiceNotFoundError


class Snapshot:
    """One loaded registry and its indexes; never changed after construction."""

    __slots__ = ("databases", "registry", "services")

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        dbs: dict[str, Database] = dict(registry.tenant_meta_dbs)
        dbs.update(registry.core_dbs)  # a core database wins a name clash
        self.databases = DatabaseIndex(dbs)
        services: dict[str, ServiceEntry] = dict(registry.services)
        self.services = ServiceIndex(services)
