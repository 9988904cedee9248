"""Tenant and core databases of the registry, resolved for a driver.

* :class:`ResolvedDatabase` (:mod:`soajs.databases.model`): the name a driver
  must use, :meth:`~ResolvedDatabase.uri` and :meth:`~ResolvedDatabase.options`;
* :func:`resolve_tenant_db` / :func:`resolve_core_db`
  (:mod:`soajs.databases.resolve`), also reached as
  ``RegistryManager.tenant_db`` / ``core_db`` and ``context.tenant_db``;
* :class:`~soajs.databases.mongo_cache.MongoClients` (extra ``mongo``): one
  pymongo client per registry location, in :mod:`soajs.databases.mongo_cache`
  (imported on demand: this package does not need pymongo).
"""

from __future__ import annotations

from soajs.databases.model import ResolvedDatabase
from soajs.databases.resolve import TENANT_NAME, resolve_core_db, resolve_tenant_db

__all__ = ["TENANT_NAME", "ResolvedDatabase", "resolve_core_db", "resolve_tenant_db"]
