"""The request context a service builds from the gateway's ``soajsinjectobj``.

The header's shape (PROTOCOL.md) is folded into one :class:`ContextData`:
the tenant with its ``key`` and ``application`` (the package's ACLs become
``application.package_acl`` and ``application.package_acl_all_env``),
``services_config`` (= ``key.config``), ``urac``, ``device``, ``geo``,
``awareness`` and ``param``. ``registry`` is not stored: it is read from the
registry source at access time, so a context cached across a reload still
reaches the current registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from pydantic import (
    Field,
    PrivateAttr,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    field_serializer,
    model_serializer,
)

from soajs.models._base import (
    EMPTY,
    MASK,
    FrozenDict,
    JsonMap,
    SecretValue,
    SoajsModel,
    mask_values,
    reveals,
)
from soajs.models._deferred import ready, ready_all
from soajs.models._masked import MaskedJsonMap, NameMaskedJsonMap, is_secret_name, mask_named
from soajs.models.registry import Awareness

if TYPE_CHECKING:
    from soajs.databases.model import ResolvedDatabase
    from soajs.models.registry import Registry

__all__ = [
    "Application",
    "ContextData",
    "Key",
    "RegistrySource",
    "Tenant",
    "TenantRef",
    "Urac",
]


class RegistrySource(Protocol):
    """Anything that can hand out the current registry snapshot (a RegistryManager)."""

    @property
    def registry(self) -> Registry: ...


class TenantRef(SoajsModel):
    """A ``{id, code}`` pointer to a tenant (``tenant.main``, ``urac.tenant``)."""

    id: str | None = None
    code: str | None = None


class Key(SoajsModel):
    """The tenant key the request was made with.

    Both parts are secrets: ``str`` values (``key.e_key == "..."`` works, and the
    connector sends it), hidden from ``repr`` and masked in ``model_dump`` /
    ``model_dump_json`` unless asked with ``context={"reveal_secrets": True}``;
    ``key.i_key.get_secret_value()`` reads one on purpose.
    """

    i_key: SecretValue | None = Field(default=None, alias="iKey", repr=False)
    e_key: SecretValue | None = Field(default=None, alias="eKey", repr=False)


class Application(SoajsModel):
    """The tenant application; package ACLs are folded in as ``package_acl*``."""

    product: str | None = None
    package: str | None = None
    app_id: str | None = Field(default=None, alias="appId")
    acl: JsonMap | None = None
    acl_all_env: JsonMap | None = None
    package_acl: JsonMap | None = None
    package_acl_all_env: JsonMap | None = None


class Tenant(SoajsModel):
    """The tenant of the request, with its key and application."""

    id: str
    code: str
    name: str | None = None
    type: str | None = None
    locked: bool | None = None
    roaming: Any = None
    main: TenantRef | None = None
    profile: JsonMap | None = None
    key: Key = Field(default_factory=Key)
    application: Application = Field(default_factory=Application)


class Urac(SoajsModel):
    """The logged-in user, when there is one.

    Values under keys named like secrets (``password``, ``accessToken``, tokens in
    ``socialLogin``...: :data:`soajs.models._masked.SECRET_NAME`), as unknown
    fields or inside its maps, are masked in ``repr``/``str`` and in dumps
    (unless ``context={"reveal_secrets": True}``); reading one gives its value.
    """

    id: str | None = Field(default=None, alias="_id")
    username: str | None = None
    first_name: str | None = Field(default=None, alias="firstName")
    last_name: str | None = Field(default=None, alias="lastName")
    email: str | None = None
    groups: tuple[str, ...] = ()
    tenant: TenantRef | None = None
    profile: NameMaskedJsonMap | None = None
    acl: NameMaskedJsonMap | None = None
    acl_all_env: NameMaskedJsonMap | None = Field(default=None, alias="acl_AllEnv")
    config: NameMaskedJsonMap | None = None
    groups_config: NameMaskedJsonMap | None = Field(default=None, alias="groupsConfig")
    social_login: NameMaskedJsonMap | None = Field(default=None, alias="socialLogin")

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            if value is not None and is_secret_name(name):
                yield name, MASK
            elif isinstance(value, FrozenDict | tuple):
                yield name, mask_named(value)
            else:
                yield name, value

    @model_serializer(mode="wrap")
    def _mask_named(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        data = handler(self)
        return data if reveals(info) else mask_named(data)


class ContextData(SoajsModel):
    """Everything a handler knows about the request's tenant and user."""

    tenant: Tenant
    urac: Urac | None = None
    # key.config: what the tenant's key configures for each service (third-party
    # credentials, often): hidden from repr, values masked in dumps unless revealed.
    services_config: MaskedJsonMap = Field(default_factory=FrozenDict, repr=False)
    device: str | JsonMap | None = None
    geo: JsonMap | None = None
    awareness: Awareness | None = None
    param: JsonMap | None = None

    @field_serializer("services_config", mode="wrap")
    def _mask_services_config(
        self, value: Any, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> Any:
        data = handler(value)
        return data if reveals(info) else mask_values(data)

    _registry_source: RegistrySource | None = PrivateAttr(default=None)
    _raw_header: bytes | None = PrivateAttr(default=None)
    # A parsed header's fields are built on first read (soajs.models._deferred).
    _deferred: Any = PrivateAttr(default=None)

    def __getattr__(self, name: str) -> Any:
        if name in _FIELDS:
            return ready(self, name)
        return super().__getattr__(name)

    @model_serializer(mode="wrap")
    def _built_first(self, handler: SerializerFunctionWrapHandler) -> Any:
        ready_all(self)
        return handler(self)

    def __eq__(self, other: object) -> bool:
        ready_all(self)
        if isinstance(other, ContextData):
            ready_all(other)
        return super().__eq__(other)

    def __hash__(self) -> int:
        ready_all(self)
        return super().__hash__()

    def __repr_args__(self) -> Any:
        ready_all(self)
        return super().__repr_args__()

    def __iter__(self) -> Any:
        ready_all(self)
        return super().__iter__()

    @property
    def registry(self) -> Registry | None:
        """The *current* registry of the service (``None`` without a source).

        Read at access time, so a context cached across a reload still
        reaches the registry loaded last.
        """
        source = self._registry_source
        if source is None:
            return None
        try:
            return source.registry
        except Exception:  # not loaded yet: the context is still usable
            return None

    @property
    def raw_header(self) -> bytes | None:
        """The exact ``soajsinjectobj`` bytes this context came from (for mesh calls)."""
        return self._raw_header

    def bind(self, source: RegistrySource | None, raw_header: bytes | None = None) -> ContextData:
        """Attach the registry source and raw header; done once, before sharing."""
        # what pydantic's __setattr__ does for private attributes, without its checks
        # (this runs once per parsed header)
        private = self.__pydantic_private__
        if private is None:  # pragma: no cover - a ContextData always has private attributes
            self._registry_source = source
            self._raw_header = raw_header
        else:
            private["_registry_source"] = source
            private["_raw_header"] = raw_header
        return self

    def service_config(self, name: str | None = None) -> FrozenDict:
        """This key's configuration for one service: ``key.config[name]`` (Node's
        ``req.soajs.servicesConfig[serviceName]``).

        ``name`` defaults to this service's own name (the registry manager's
        ``service_name``, the ``Config`` name). Deep read-only (a frozen mapping
        whose ``repr`` masks the values); missing, ``null`` or not a JSON object:
        an empty mapping. Raises :class:`~soajs.errors.ConfigurationError` when no
        name is given and the context knows no service (not bound to a manager).
        """
        if name is None:
            name = getattr(self._registry_source, "service_name", None)
            if not isinstance(name, str) or not name:
                from soajs.errors import ConfigurationError

                raise ConfigurationError(
                    "service_config() needs the service name: this context is not bound "
                    "to a RegistryManager (pass service_config(name))"
                )
        value = self.services_config.get(name)
        return value if isinstance(value, FrozenDict) else EMPTY

    def tenant_db(self, name: str) -> ResolvedDatabase:
        """The ``tenantMetaDB`` entry ``name`` resolved for this request's tenant
        (``RegistryManager.tenant_db(name, context.tenant.code)``, on the current
        registry). Raises :class:`~soajs.errors.RegistryNotLoadedError` when the
        context has no registry; see ``RegistryManager.tenant_db`` for the rest."""
        from soajs.databases.resolve import resolve_tenant_db

        source = self._registry_source
        if source is None:
            from soajs.errors import RegistryNotLoadedError

            raise RegistryNotLoadedError(
                "this context is not bound to a registry: no tenant database to resolve"
            )
        resolve = getattr(source, "tenant_db", None)
        if callable(resolve):
            resolved: ResolvedDatabase = resolve(name, self.tenant.code)
            return resolved
        return resolve_tenant_db(source.registry, name, self.tenant.code)


_FIELDS = frozenset(ContextData.model_fields)
