"""``ResolvedDatabase``: a registry database entry made ready for a driver.

Built by :func:`~soajs.databases.resolve.resolve_tenant_db` and
:func:`~soajs.databases.resolve.resolve_core_db` (or
``RegistryManager.tenant_db`` / ``core_db``, ``context.tenant_db``). It is
frozen, keeps the registry's secret masking (``repr``, ``str``, ``print``,
logging and ``model_dump`` never show the credentials, nor options named like
secrets: ``tlsCertificateKeyFilePassword``, ``AWS_SESSION_TOKEN``,
``authMechanismProperties``), and reveals them on purpose in
:meth:`ResolvedDatabase.uri` and :meth:`ResolvedDatabase.options`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any, Literal

from pydantic import Field, SerializationInfo, SerializerFunctionWrapHandler, model_serializer

from soajs.databases.uri import (
    build_uri,
    driver_options,
    format_hosts,
    merge_options,
    query,
    scheme_of,
    userinfo,
)
from soajs.models._base import MASK, JsonMap, SoajsModel, reveals
from soajs.models._masked import is_secret_name
from soajs.models.registry import Credentials, RegistryLocation, Server

__all__ = ["ResolvedDatabase", "connection_uri", "fingerprint_of"]


def _thaw(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_thaw(v) for v in value]
    return value


_OPTION_FIELDS = ("url_param", "extra_param", "URLParam", "extraParam")


def _mask_options(value: Any) -> Any:
    """Option maps with secret-like values masked: ``tlsCertificateKeyFilePassword``,
    ``AWS_SESSION_TOKEN``..., and ``authMechanismProperties`` whole (at any depth)."""
    if isinstance(value, dict):
        return {
            k: (
                MASK
                if v is not None
                and (is_secret_name(k) or str(k).lower() == "authmechanismproperties")
                else _mask_options(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_mask_options(v) for v in value]
    return value


class ResolvedDatabase(SoajsModel):
    """One database of the registry, resolved for a tenant (or for the service).

    ``name`` is the name a driver must use: the entry's ``name`` with every
    ``#TENANT_NAME#`` replaced by the tenant code, then ``prefix`` prepended
    (Node's order). ``entry`` is the registry key it came from and ``kind``
    its section (``"tenant"``: ``tenantMetaDB``, ``"core"``: ``coreDB``).

    ``servers``, ``credentials``, ``protocol`` and the options are checked
    when :meth:`uri`, :meth:`options` or :meth:`hosts` is called, which raise
    :class:`~soajs.errors.DatabaseConfigError` on a bad entry (so the name of
    a database whose ``servers`` is not set yet can still be read).
    """

    name: str
    entry: str
    kind: Literal["tenant", "core"]
    tenant_code: str | None = None
    prefix: str | None = None
    cluster: str | None = None
    servers: tuple[Server, ...] | None = None
    credentials: Credentials | None = Field(default=None, repr=False)
    protocol: str | None = None
    url_param: JsonMap | None = Field(default=None, alias="URLParam")
    extra_param: JsonMap | None = Field(default=None, alias="extraParam")
    streaming: JsonMap | None = None
    registry_location: RegistryLocation | None = Field(default=None, alias="registryLocation")

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            yield name, _mask_options(value) if name in _OPTION_FIELDS else value

    @model_serializer(mode="wrap")
    def _mask_secret_options(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> Any:
        data = handler(self)
        if isinstance(data, dict) and not reveals(info):
            for name in _OPTION_FIELDS:
                if data.get(name) is not None:
                    data[name] = _mask_options(data[name])
        return data

    @property
    def scheme(self) -> str:
        """``mongodb`` or ``mongodb+srv`` (from ``protocol``)."""
        return scheme_of(self.protocol)

    def hosts(self) -> str:
        """``host:port,host:port`` as written in the URI (IPv6 bracketed)."""
        return format_hosts(self.servers, self.scheme)

    def options(self) -> dict[str, Any]:
        """The connection options (``URLParam`` over the flattened ``extraParam``),
        as a new plain ``dict``, for drivers that take keyword arguments
        (``MongoClient(host, **db.options())`` gives the client ``uri()`` gives;
        ``readPreferenceTags`` as a list of ``k:v,k:v`` strings). No
        credentials: they are in :meth:`uri`, or read them on purpose from
        ``credentials``."""
        merged = merge_options(self.url_param, self.extra_param)
        query(merged)  # the same checks as uri(): what one refuses, the other does too
        return {k: _thaw(v) for k, v in driver_options(merged).items()}

    def uri(self) -> str:
        """The MongoDB connection URI, **credentials included** (percent-escaped).

        It is a secret: pass it to the driver, never log it. Raises
        :class:`~soajs.errors.DatabaseConfigError` on a bad entry.
        """
        return connection_uri(
            self.protocol, self.servers, self.credentials, self.url_param, self.extra_param
        )

    @property
    def location(self) -> tuple[str, str]:
        """``(kind, entry)``: the registry location every tenant of the entry shares."""
        return (self.kind, self.entry)

    def fingerprint(self) -> str:
        """A digest of what the connection is made of (scheme, hosts, credentials,
        options), the same for every tenant of one entry: it changes when a reload
        changes any of them. Keyed per process (HMAC-SHA-256): it cannot be used to
        guess the password, and compares only within one process."""
        return fingerprint_of(self.uri())


def connection_uri(
    protocol: Any, servers: Any, credentials: Credentials | None, url_param: Any, extra_param: Any
) -> str:
    """The URI of a connection made of these registry fields (see :mod:`soajs.databases.uri`)."""
    scheme = scheme_of(protocol)
    hosts = format_hosts(servers, scheme)
    options = merge_options(url_param, extra_param)
    auth = (
        userinfo(credentials.username, credentials.password, options)
        if credentials is not None
        else ""
    )
    return build_uri(scheme, hosts, auth, options)


# A fingerprint is keyed with a per-process secret: a bare hash of a URI would let
# whoever sees one (a log, a dump) try passwords offline. Compared in-process only.
_FINGERPRINT_KEY = secrets.token_bytes(32)


def fingerprint_of(uri: str) -> str:
    """A keyed digest (HMAC-SHA-256, per-process key) of a connection URI: compares
    connections without keeping the secret, and cannot be used to guess it."""
    return hmac.new(_FINGERPRINT_KEY, uri.encode("utf-8"), hashlib.sha256).hexdigest()
