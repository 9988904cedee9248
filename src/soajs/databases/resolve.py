"""Resolve a registry database entry for a tenant (``tenantMetaDB``) or the service (``coreDB``).

Node SOAJS (``soajs.core/meta/index.js`` ``tenantDB``) replaces the first
``#TENANT_NAME#`` of the entry's ``name`` with the tenant code, and
``soajs.mongo`` prepends ``prefix`` when it opens the database. The same here,
with these differences on purpose:

* every ``#TENANT_NAME#`` is replaced (Node: the first only), with the code
  taken literally (JavaScript's ``replace`` reads ``$&`` and ``$1`` in it);
* the tenant code is checked: empty, or holding anything but letters, digits
  (any script), ``_`` and ``-``, raises :class:`~soajs.errors.TenantCodeError`. A hostile
  code can then neither reach another database nor change the URI (the
  database name is not part of the URI anyway, see :mod:`soajs.databases.uri`);
* a name with ``#TENANT_NAME#`` and no tenant raises
  :class:`~soajs.errors.TenantCodeError` (Node returned ``{}`` and failed later);
* the final name is checked against MongoDB's rules (fewer than 64 bytes, none
  of the characters above): :class:`~soajs.errors.DatabaseConfigError`;
* an unknown entry raises :class:`~soajs.errors.TenantDatabaseNotFoundError` /
  :class:`~soajs.errors.CoreDatabaseNotFoundError` (both
  :class:`~soajs.errors.DatabaseNotFoundError`), naming the known entries (at
  most 20); a ``coreDB`` entry with no ``name`` uses its key, a
  ``tenantMetaDB`` entry with none is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from soajs.databases.model import ResolvedDatabase, connection_uri, fingerprint_of
from soajs.errors import (
    CoreDatabaseNotFoundError,
    DatabaseConfigError,
    DatabaseNotFoundError,
    TenantCodeError,
    TenantDatabaseNotFoundError,
)
from soajs.models.registry import Database, Registry

__all__ = [
    "TENANT_NAME",
    "check_tenant_code",
    "database_name",
    "entry_fingerprint",
    "entry_uri",
    "location_uri",
    "resolve_core_db",
    "resolve_entry",
    "resolve_tenant_db",
]

#: The pattern of a tenant database's name that the tenant code replaces.
TENANT_NAME = "#TENANT_NAME#"

#: Longest database name MongoDB accepts, in bytes ("fewer than 64 characters").
MAX_NAME_BYTES = 63
_MAX_KNOWN = 20
_MAX_SHOWN = 100

# MongoDB refuses these in database names (Unix and Windows sets), plus whitespace
# and control characters.
_BAD_NAME = re.compile(r'[/\\. "$*<>:|?\x00-\x1f\x7f\s]')
# A tenant code: letters and digits (any script), '_' and '-'.
_CODE = re.compile(r"[^\W]|-")


def _shown(text: str) -> str:
    return text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "..."


def check_tenant_code(code: Any) -> str:
    """The tenant code, if it can be part of a database name; else :class:`TenantCodeError`."""
    if code is None or code == "":
        raise TenantCodeError("a tenant database needs the tenant's code and none was given")
    if not isinstance(code, str):
        raise TenantCodeError(f"a tenant code must be a string, got {type(code).__name__}")
    if not all(_CODE.fullmatch(c) for c in code) or len(code.encode("utf-8")) > MAX_NAME_BYTES:
        raise TenantCodeError(
            f"tenant code {_shown(code)!r} cannot be part of a database name "
            f"(letters, digits, '_' and '-' only, at most {MAX_NAME_BYTES} bytes)"
        )
    return code


def database_name(pattern: str, prefix: str | None, tenant_code: str | None) -> str:
    """``prefix`` + ``pattern`` with every ``#TENANT_NAME#`` replaced by the code."""
    name = pattern
    if TENANT_NAME in pattern:
        name = pattern.replace(TENANT_NAME, check_tenant_code(tenant_code))
    name = (prefix or "") + name
    if not name or _BAD_NAME.search(name) is not None:
        raise DatabaseConfigError(
            f"database name {_shown(name)!r} is not a valid MongoDB database name "
            '(empty, or holds / \\ . " $ * < > : | ?, whitespace or control characters)'
        )
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise DatabaseConfigError(
            f"database name {_shown(name)!r} is longer than {MAX_NAME_BYTES} bytes"
        )
    return name


def _known(section: Mapping[str, Database]) -> list[str]:
    # the names an error lists: at most _MAX_KNOWN, each bounded (a registry key may be huge)
    return [_shown(key) for key in sorted(section)[:_MAX_KNOWN]]


def _lookup(
    section: Mapping[str, Database], name: Any, error: type[DatabaseNotFoundError]
) -> Database:
    if not isinstance(name, str) or not name:
        raise error(_shown(repr(name)), _known(section))
    entry = section.get(name)
    if entry is None:
        raise error(_shown(name), _known(section))
    return entry


def resolve_entry(
    entry: Database, key: str, kind: str, tenant_code: str | None
) -> ResolvedDatabase:
    """One registry entry resolved (see the module docstring)."""
    if entry.invalid_fields:
        raise DatabaseConfigError(
            f"database {_shown(key)!r} is malformed in the registry "
            f"({', '.join(_shown(f) for f in entry.invalid_fields[:10])})"
        )
    pattern = entry.name
    if not pattern:
        if kind == "tenant":
            raise DatabaseConfigError(
                f"tenant database {_shown(key)!r} has no name in the registry"
            )
        pattern = key
    elif kind == "core" and TENANT_NAME in pattern:
        raise TenantCodeError(
            f"core database {_shown(key)!r} is named after a tenant ({TENANT_NAME}): "
            "it is a tenant database, use tenant_db(name, tenant_code)"
        )
    code = tenant_code if kind == "tenant" and TENANT_NAME in pattern else None
    name = database_name(pattern, entry.prefix, code)
    extra = entry.model_extra or {}
    protocol = extra.get("protocol")
    if protocol is not None and not isinstance(protocol, str):
        raise DatabaseConfigError(
            f"protocol of database {_shown(key)!r} must be a string, got {type(protocol).__name__}"
        )
    return ResolvedDatabase(
        name=name,
        entry=key,
        kind="tenant" if kind == "tenant" else "core",
        tenant_code=code,
        prefix=entry.prefix,
        cluster=entry.cluster,
        servers=entry.servers,
        credentials=entry.credentials,
        protocol=protocol or None,
        URLParam=entry.url_param,
        extraParam=entry.extra_param,
        streaming=entry.streaming,
        registryLocation=entry.registry_location,
    )


def resolve_tenant_db(registry: Registry, name: str, tenant_code: str | None) -> ResolvedDatabase:
    """The ``tenantMetaDB`` entry ``name`` for the tenant ``tenant_code``.

    A name without ``#TENANT_NAME#`` (a database all tenants share) needs no
    tenant code; one with it raises :class:`~soajs.errors.TenantCodeError`
    when ``tenant_code`` is missing or unusable.
    """
    entry = _lookup(registry.tenant_meta_dbs, name, TenantDatabaseNotFoundError)
    return resolve_entry(entry, name, "tenant", tenant_code)


def resolve_core_db(registry: Registry, name: str) -> ResolvedDatabase:
    """The ``coreDB`` entry ``name`` (its own name, or its key when it has none)."""
    entry = _lookup(registry.core_dbs, name, CoreDatabaseNotFoundError)
    return resolve_entry(entry, name, "core", None)


def location_uri(registry: Registry, kind: str, key: str) -> str:
    """The connection URI of an entry of ``registry`` as it is now.

    The same for every tenant of a ``tenantMetaDB`` entry (the database name
    is not part of it). Raises :class:`~soajs.errors.DatabaseNotFoundError`
    when the entry is gone, :class:`~soajs.errors.DatabaseConfigError` when
    it is unusable.
    """
    tenant = kind == "tenant"
    section = registry.tenant_meta_dbs if tenant else registry.core_dbs
    error = TenantDatabaseNotFoundError if tenant else CoreDatabaseNotFoundError
    entry = _lookup(section, key, error)
    protocol = (entry.model_extra or {}).get("protocol")
    return connection_uri(
        protocol, entry.servers, entry.credentials, entry.url_param, entry.extra_param
    )


def entry_uri(registry: Registry, kind: str, key: str) -> str | None:
    """:func:`location_uri`, ``None`` when the entry is gone or unusable."""
    try:
        return location_uri(registry, kind, key)
    except (DatabaseConfigError, DatabaseNotFoundError):
        return None


def entry_fingerprint(registry: Registry, kind: str, key: str) -> str | None:
    """The fingerprint of :func:`entry_uri` (``None``: gone or unusable): the client
    cache compares it across a reload."""
    uri = entry_uri(registry, kind, key)
    return None if uri is None else fingerprint_of(uri)
