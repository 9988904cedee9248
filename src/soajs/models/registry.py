"""The environment registry a control plane serves (``GET /getRegistry``).

Shapes follow ``PROTOCOL.md``; every field is optional because real gateways
leave fields out, and unknown fields are kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    AliasChoices,
    Field,
    PrivateAttr,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_serializer,
    model_serializer,
    model_validator,
)

from soajs.models._base import (
    MASK,
    FrozenDict,
    JsonMap,
    Secret,
    SoajsModel,
    freeze,
    mask_credentials,
    reveals,
)
from soajs.models._pending import ready

__all__ = [
    "Awareness",
    "AwarenessConfig",
    "CookieConfig",
    "Credentials",
    "CustomEntry",
    "Database",
    "InterConnect",
    "KeyConfig",
    "Ports",
    "Registry",
    "RegistryLocation",
    "Resource",
    "Server",
    "ServiceConfig",
    "ServiceEntry",
    "SessionConfig",
]

#: Gateway default for ``serviceConfig.awareness.autoReloadRegistry`` (1 hour).
DEFAULT_AUTO_RELOAD_MS = 3_600_000


def _frozen_mapping(value: Mapping[str, Any]) -> FrozenDict:
    return value if isinstance(value, FrozenDict) else FrozenDict(value)


class Server(SoajsModel):
    """One ``{host, port}`` of a database cluster."""

    host: str = ""
    port: int | None = None


class Credentials(SoajsModel):
    """Database credentials. Both parts are secrets.

    Read them on purpose: ``db.credentials.password.get_secret_value()``.
    """

    username: Secret | None = None
    password: Secret | None = None

    def __repr_args__(self) -> Any:
        # Unknown fields of a credentials object may be secrets too
        # (authSource is not, but a token might be): show none of them.
        for name in ("username", "password"):
            value = getattr(self, name)
            yield name, None if value is None else MASK

    @model_serializer(mode="wrap")
    def _mask_extras(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        data = handler(self)
        if isinstance(data, dict) and not reveals(info):
            for key in self.model_extra or ():
                if key in data and data[key] is not None:
                    data[key] = MASK
        return data


class RegistryLocation(SoajsModel):
    """Where a database entry lives in the registry."""

    l1: str | None = None
    l2: str | None = None
    env: str | None = None
    time_loaded: int | None = Field(default=None, alias="timeLoaded")
    cluster: str | None = None


class Database(SoajsModel):
    """A database entry of ``coreDB`` or ``tenantMetaDB``.

    ``credentials`` are hidden from ``repr`` and masked in dumps.
    """

    name: str | None = None
    prefix: str | None = None
    cluster: str | None = None
    servers: tuple[Server, ...] | None = None
    credentials: Credentials | None = Field(default=None, repr=False)
    streaming: JsonMap | None = None
    registry_location: RegistryLocation | None = Field(default=None, alias="registryLocation")
    url_param: JsonMap | None = Field(default=None, alias="URLParam")
    extra_param: JsonMap | None = Field(default=None, alias="extraParam")
    # Session stores.
    store: JsonMap | None = None
    collection: str | None = None
    stringify: bool | None = None
    expire_after: int | None = Field(default=None, alias="expireAfter")

    # The fields the registry sent malformed (dropped here): one bad entry fails on its
    # own, when it is resolved (soajs.databases), not the whole registry's load.
    _invalid: tuple[str, ...] = PrivateAttr(default=())

    @property
    def invalid_fields(self) -> tuple[str, ...]:
        """Names of the fields the registry sent malformed (`()` when none)."""
        return self._invalid

    @model_validator(mode="wrap")
    @classmethod
    def _isolate_bad_fields(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(data)
        except ValidationError as exc:
            if not isinstance(data, Mapping):
                bad: tuple[str, ...] = ("entry",)
                kept: dict[str, Any] = {}
            else:
                # only top-level names: never a value (credentials may be in them)
                bad = tuple(
                    sorted(
                        {
                            str(err["loc"][0])
                            for err in exc.errors(include_input=False)
                            if err["loc"]
                        }
                    )
                ) or ("entry",)
                kept = {k: v for k, v in data.items() if k not in bad}
            try:
                entry = handler(kept)
            except ValidationError:
                entry, bad = handler({}), ("entry",)
            entry._invalid = bad
            return entry


class AwarenessConfig(SoajsModel):
    """``serviceConfig.awareness``: the gateway's timers, in milliseconds."""

    cache_ttl: int | None = Field(default=None, alias="cacheTTL")
    health_check_interval: int | None = Field(default=None, alias="healthCheckInterval")
    # Gateway 4.3.4 spells it "autoRelaodRegistry"; accept both.
    auto_reload_registry: int | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "autoReloadRegistry", "autoRelaodRegistry", "auto_reload_registry"
        ),
        serialization_alias="autoReloadRegistry",
    )
    max_log_count: int | None = Field(default=None, alias="maxLogCount")
    auto_register_service: bool | None = Field(default=None, alias="autoRegisterService")


class KeyConfig(SoajsModel):
    """``serviceConfig.key``: how tenant keys are encrypted. ``password`` is secret."""

    algorithm: str | None = None
    password: Secret | None = None


class Ports(SoajsModel):
    """``serviceConfig.ports``."""

    controller: int | None = None
    maintenance_inc: int | None = Field(default=None, alias="maintenanceInc")
    random_inc: int | None = Field(default=None, alias="randomInc")


class CookieConfig(SoajsModel):
    """``serviceConfig.cookie``. ``secret`` is secret."""

    secret: Secret | None = None


class SessionConfig(SoajsModel):
    """``serviceConfig.session``. ``secret`` is secret; other fields are kept."""

    name: str | None = None
    secret: Secret | None = None


class ServiceConfig(SoajsModel):
    """``serviceConfig``: awareness timers, key, logger, ports, cookie, session."""

    awareness: AwarenessConfig = Field(default_factory=AwarenessConfig)
    agent: JsonMap | None = None
    key: KeyConfig | None = None
    logger: JsonMap | None = None
    ports: Ports = Field(default_factory=Ports)
    cookie: CookieConfig | None = None
    session: SessionConfig | None = None


class CustomEntry(SoajsModel):
    """A ``custom`` registry entry; ``value`` is whatever the operator stored."""

    id: str | None = Field(default=None, alias="_id")
    name: str | None = None
    locked: bool | None = None
    plugged: bool | None = None
    shared: bool | None = None
    value: Annotated[Any, AfterValidator(freeze)] = None
    created: Any = None
    author: str | None = None


class Resource(SoajsModel):
    """A ``resources[type][name]`` entry (a cluster, a server, ...)."""

    id: str | None = Field(default=None, alias="_id")
    name: str | None = None
    type: str | None = None
    category: str | None = None
    created: Any = None
    author: str | None = None
    locked: bool | None = None
    plugged: bool | None = None
    shared: bool | None = None
    # A resource's config may carry credentials (a cluster's, for instance):
    # hidden from repr, masked in dumps unless revealed on purpose.
    config: JsonMap | None = Field(default=None, repr=False)

    @field_serializer("config", mode="wrap")
    def _mask_config(
        self, value: Any, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> Any:
        data = handler(value)
        return data if reveals(info) else mask_credentials(data)


class ServiceEntry(SoajsModel):
    """A ``services`` entry: at least ``{group, port}``; the controller has hosts."""

    name: str | None = None
    group: str | None = None
    port: int | None = None
    version: str | None = None
    hosts: JsonMap | None = None
    max_pool_size: int | None = Field(default=None, alias="maxPoolSize")
    authorization: bool | None = None
    request_timeout: int | None = Field(default=None, alias="requestTimeout")
    request_timeout_renewal: int | None = Field(default=None, alias="requestTimeoutRenewal")
    awareness_stats: JsonMap | None = Field(default=None, alias="awarenessStats")


class InterConnect(SoajsModel):
    """An ``awareness.interConnect`` entry: a service reachable mesh-direct."""

    name: str = ""
    version: str | None = None
    host: str = ""
    port: int | None = None
    latest: str | None = None


class Awareness(SoajsModel):
    """Where the gateway is (``{host, port}``), plus interConnect in a request context."""

    host: str | None = None
    port: int | None = None
    inter_connect: tuple[InterConnect, ...] | None = Field(default=None, alias="interConnect")

    # A request context's entries are checked when parsed and built on first read,
    # by whatever reads them (soajs.models._pending).
    _pending: Any = PrivateAttr(default=None)

    def __getattr__(self, name: str) -> Any:
        if name == "inter_connect":
            return ready(self)
        return super().__getattr__(name)

    @model_serializer(mode="wrap")
    def _built_first(self, handler: SerializerFunctionWrapHandler) -> Any:
        ready(self)
        return handler(self)

    def __eq__(self, other: object) -> bool:
        ready(self)
        if isinstance(other, Awareness):
            ready(other)
        return super().__eq__(other)

    def __hash__(self) -> int:
        ready(self)
        return super().__hash__()

    def __repr_args__(self) -> Any:
        ready(self)
        return super().__repr_args__()

    def __iter__(self) -> Any:
        ready(self)
        return super().__iter__()


def _frozen_resources(value: Mapping[str, Mapping[str, Resource]]) -> FrozenDict:
    return FrozenDict({t: _frozen_mapping(group) for t, group in value.items()})


_Databases = Annotated[dict[str, Database], AfterValidator(_frozen_mapping)]


class Registry(SoajsModel):
    """The registry of one environment, as filtered for one service."""

    _synonyms: ClassVar[dict[str, str]] = {
        "core_db": "core_dbs",
        "tenant_meta_db": "tenant_meta_dbs",
    }

    time_loaded: int | None = Field(default=None, alias="timeLoaded")
    name: str | None = None
    environment: str | None = None
    domain: str | None = None
    site_prefix: str | None = Field(default=None, alias="sitePrefix")
    api_prefix: str | None = Field(default=None, alias="apiPrefix")
    protocol: str | None = None
    port: int | None = None
    core_dbs: _Databases = Field(default_factory=FrozenDict, alias="coreDB")
    tenant_meta_dbs: _Databases = Field(default_factory=FrozenDict, alias="tenantMetaDB")
    service_config: ServiceConfig = Field(default_factory=ServiceConfig, alias="serviceConfig")
    deployer: JsonMap | None = None
    custom: Annotated[dict[str, CustomEntry], AfterValidator(_frozen_mapping)] = Field(
        default_factory=FrozenDict
    )
    resources: Annotated[dict[str, dict[str, Resource]], AfterValidator(_frozen_resources)] = Field(
        default_factory=FrozenDict
    )
    services: Annotated[dict[str, ServiceEntry], AfterValidator(_frozen_mapping)] = Field(
        default_factory=FrozenDict
    )
    awareness: Awareness | None = None

    @property
    def auto_reload_ms(self) -> int:
        """The reload period the control plane asks for, in ms (gateway default 1 h)."""
        value = self.service_config.awareness.auto_reload_registry
        return value if value and value > 0 else DEFAULT_AUTO_RELOAD_MS

    @property
    def maintenance_inc(self) -> int | None:
        """``serviceConfig.ports.maintenanceInc``, if the control plane sent it."""
        return self.service_config.ports.maintenance_inc
