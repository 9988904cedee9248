"""Tenant and core databases of a ``RegistryManager`` (a mixin), with its client cache.

* ``manager.tenant_db(name, tenant_code)`` / ``manager.core_db(name)``:
  the entry of the *current* registry resolved
  (:mod:`soajs.databases.resolve`);
* ``manager.mongo``: the manager's :class:`~soajs.databases.mongo_cache.MongoClients`
  (extra ``mongo``), made on first use. Each registry load checks its cached
  locations (a changed password or server list retires the old client), and
  ``manager.stop()`` closes them all.

The hook into ``stop()`` is :meth:`DatabaseAccess.__init_subclass__`: the
class that takes this mixin gets its own ``stop`` (and its ``close`` alias)
wrapped once so that the clients are closed after it, within what is left of
the same bound. The hook into each load overrides ``_publish`` (the mixin
comes before :class:`~soajs.registry.reads.SnapshotReads`).
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from soajs.databases.model import ResolvedDatabase
from soajs.databases.resolve import resolve_core_db, resolve_tenant_db

if TYPE_CHECKING:
    from soajs.databases.mongo_cache import MongoClients
    from soajs.models.registry import Registry
    from soajs.registry.reads import SnapshotReads

    _Base = SnapshotReads
else:
    _Base = object

__all__ = ["DatabaseAccess"]

logger = logging.getLogger("soajs.databases")

_CREATE = threading.Lock()  # only for making a manager's cache, once


def _new_create_lock() -> None:
    # a fork while another thread held it would leave the child's copy held forever
    global _CREATE
    _CREATE = threading.Lock()


os.register_at_fork(after_in_child=_new_create_lock)
_WRAPPED = "__soajs_closes_databases__"


def _closing_databases(stop: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(stop)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> None:
        started = time.monotonic()
        try:
            stop(self, *args, **kwargs)
        finally:
            given = kwargs.get("timeout", args[0] if args else None)
            bound = float(given if isinstance(given, int | float) else self.stop_timeout)
            self._close_databases(max(0.0, bound - (time.monotonic() - started)))

    setattr(wrapper, _WRAPPED, True)
    return wrapper


class DatabaseAccess(_Base):
    """``tenant_db``, ``core_db`` and the ``mongo`` client cache (module docstring)."""

    _mongo_clients: MongoClients | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("stop")
        if own is None or getattr(own, _WRAPPED, False):
            return
        wrapped = _closing_databases(own)
        for name, value in list(cls.__dict__.items()):
            if value is own:  # ``stop`` and aliases of it (``close = stop``)
                setattr(cls, name, wrapped)

    def tenant_db(self, name: str, tenant_code: str | None) -> ResolvedDatabase:
        """The ``tenantMetaDB`` entry ``name`` resolved for the tenant ``tenant_code``.

        ``.name`` is the database name to use, ``.uri()`` the connection URI.
        Raises :class:`~soajs.errors.TenantDatabaseNotFoundError`,
        :class:`~soajs.errors.TenantCodeError` (the name needs a tenant and
        none, or an unusable one, was given),
        :class:`~soajs.errors.DatabaseConfigError` (an invalid name), or
        :class:`~soajs.errors.RegistryNotLoadedError`.
        """
        return resolve_tenant_db(self.registry, name, tenant_code)

    def core_db(self, name: str) -> ResolvedDatabase:
        """The ``coreDB`` entry ``name`` resolved (see :meth:`tenant_db`).

        Raises :class:`~soajs.errors.CoreDatabaseNotFoundError` for an unknown name.
        """
        return resolve_core_db(self.registry, name)

    @property
    def mongo(self) -> MongoClients:
        """This manager's pymongo client cache (extra ``mongo``), made on first use.

        ``manager.mongo.database(manager.core_db("orders"))`` is a pymongo
        ``Database``; ``async_database`` its async twin. To set its options,
        assign one before first use: ``manager.mongo = MongoClients(grace=10)``.
        """
        clients = self._mongo_clients
        if clients is None:
            from soajs.databases.mongo_cache import MongoClients

            with _CREATE:
                clients = self._mongo_clients
                if clients is None:
                    clients = self._mongo_clients = MongoClients()
                    clients.attach(self)
            if getattr(self, "_stopped", False):
                clients.close(0)  # a stopped manager's cache makes no client
        return clients

    @mongo.setter
    def mongo(self, clients: MongoClients) -> None:
        clients.attach(self)
        with _CREATE:
            old, self._mongo_clients = self._mongo_clients, clients
        if old is not None and old is not clients:
            old.close()

    def _publish(self, registry: Registry) -> None:
        super()._publish(registry)
        clients = self._mongo_clients
        if clients is not None:
            try:
                clients.sweep(registry)
            except Exception as exc:  # a reload is never broken by the cache
                logger.warning(
                    "database client check after a reload failed: %s", type(exc).__name__
                )

    def _close_databases(self, timeout: float) -> None:
        clients = self._mongo_clients
        if clients is not None:
            try:
                clients.close(timeout)
            except Exception as exc:  # stop() never fails because of the cache
                logger.warning("closing the database clients failed: %s", type(exc).__name__)
