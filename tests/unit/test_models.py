"""The SOAJS models: tolerant, immutable and secret-safe (see soajs.models._base).

Most tables run on the real gateway 4.3.4 capture (``captured_registry``) and on
the sample registry shipped in examples/ (``sample_registry``, the one with
database credentials).
"""

from __future__ import annotations

import copy
import json
import logging
import pickle
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from soajs.models import (
    Awareness,
    ContextData,
    Credentials,
    Database,
    Envelope,
    FrozenDict,
    Registry,
    SoajsModel,
    freeze,
)
from soajs.models.registry import DEFAULT_AUTO_RELOAD_MS
from tests.conftest import load_fixture

REVEAL = {"reveal_secrets": True}
MASK = "**********"
NEW = {"nested": {"list": [1, {"deep": True}]}, "n": 1}


def thaw(value: Any) -> Any:
    """Frozen JSON (FrozenDict, tuples) back to plain JSON values, for comparisons."""
    return json.loads(json.dumps(value))


@pytest.fixture
def registry(captured_registry: dict[str, Any]) -> Registry:
    return Registry.model_validate(captured_registry)


@pytest.fixture
def sample(sample_registry: dict[str, Any]) -> Registry:
    return Registry.model_validate(sample_registry)


# -- the real capture -----------------------------------------------------------------


def test_capture_validates_into_registry(registry: Registry) -> None:
    assert registry.time_loaded == 1795381999494
    assert (registry.name, registry.environment, registry.domain) == ("dev", "dev", "localhost")
    assert (registry.site_prefix, registry.api_prefix, registry.protocol) == ("site", "api", "http")
    assert registry.port == 4000

    assert set(registry.core_dbs) == {"provision", "hello_core", "session"}
    hello_core = registry.core_dbs["hello_core"]
    assert isinstance(hello_core, Database)
    assert hello_core.name == "hello_core"
    assert hello_core.cluster == "local_cluster"
    assert hello_core.servers is not None
    assert [(s.host, s.port) for s in hello_core.servers] == [("127.0.0.1", 27017)]
    assert hello_core.credentials is None
    assert hello_core.url_param == {"useUnifiedTopology": True}
    assert hello_core.registry_location is not None
    assert hello_core.registry_location.l1 == "coreDB"
    assert hello_core.registry_location.time_loaded == 1795381999382
    meta = registry.tenant_meta_dbs["hello_tenant"]
    assert meta.name == "#TENANT_NAME#_hello_tenant"
    assert meta.registry_location is not None and meta.registry_location.l1 == "metaDB"

    config = registry.service_config
    assert config.awareness.cache_ttl == 3_600_000
    assert config.awareness.health_check_interval == 2000
    assert config.awareness.auto_reload_registry == 3_600_000
    assert config.awareness.max_log_count == 5
    assert config.awareness.auto_register_service is True
    assert (config.ports.controller, config.ports.maintenance_inc, config.ports.random_inc) == (
        4000,
        1000,
        100,
    )
    assert registry.maintenance_inc == 1000
    assert registry.auto_reload_ms == 3_600_000
    assert config.key is not None and config.key.algorithm == "aes256"
    assert config.logger is not None and config.logger["formatter"]["outputMode"] == "short"

    assert registry.custom["helloCustom"].value == {"greeting": "hi from registry custom"}
    assert registry.custom["helloCustom"].plugged is True
    cluster = registry.resources["cluster"]["local_cluster"]
    assert (cluster.name, cluster.type, cluster.category) == ("local_cluster", "cluster", "mongo")
    assert set(registry.services) == {"controller", "hello"}
    controller = registry.services["controller"]
    assert (controller.group, controller.port, controller.version) == ("Gateway", 4000, "1")
    assert controller.max_pool_size == 100
    assert controller.request_timeout == 30
    assert controller.hosts == {"1": ("127.0.0.1",), "latest": "1"}
    assert (registry.services["hello"].group, registry.services["hello"].port) == ("Holdout", 4381)
    assert registry.awareness is not None
    assert (registry.awareness.host, registry.awareness.port) == ("127.0.0.1", 4000)
    # nothing of the capture was left over as an unknown field
    assert registry.model_extra == {}


def test_capture_round_trips_through_json(registry: Registry) -> None:
    again = Registry.model_validate_json(registry.model_dump_json(context=REVEAL))
    assert again == registry


def test_sample_registry_validates(sample: Registry) -> None:
    assert set(sample.core_dbs) == {"provision", "main", "session"}
    assert set(sample.services) == {"controller", "hello", "orders"}
    assert sample.auto_reload_ms == 2000
    session = sample.core_dbs["session"]
    assert (session.collection, session.stringify, session.expire_after) == (
        "sessions",
        False,
        1209600000,
    )


# -- python names and wire names ------------------------------------------------------


def _db(r: Registry) -> Any:
    return r.core_dbs["hello_core"]


NAMES = [
    pytest.param(lambda r: r, "core_dbs", "coreDB", id="coreDB"),
    pytest.param(lambda r: r, "core_dbs", "core_db", id="core_db-synonym"),
    pytest.param(lambda r: r, "tenant_meta_dbs", "tenantMetaDB", id="tenantMetaDB"),
    pytest.param(lambda r: r, "tenant_meta_dbs", "tenant_meta_db", id="tenant_meta_db-synonym"),
    pytest.param(lambda r: r, "service_config", "serviceConfig", id="serviceConfig"),
    pytest.param(lambda r: r, "time_loaded", "timeLoaded", id="timeLoaded"),
    pytest.param(lambda r: r, "site_prefix", "sitePrefix", id="sitePrefix"),
    pytest.param(lambda r: r, "api_prefix", "apiPrefix", id="apiPrefix"),
    pytest.param(_db, "registry_location", "registryLocation", id="registryLocation"),
    pytest.param(_db, "url_param", "URLParam", id="URLParam"),
    pytest.param(_db, "extra_param", "extraParam", id="extraParam"),
    pytest.param(
        lambda r: _db(r).registry_location, "time_loaded", "timeLoaded", id="location-timeLoaded"
    ),
    pytest.param(
        lambda r: r.service_config.awareness, "cache_ttl", "cacheTTL", id="awareness-cacheTTL"
    ),
    pytest.param(
        lambda r: r.service_config.awareness,
        "health_check_interval",
        "healthCheckInterval",
        id="healthCheckInterval",
    ),
    pytest.param(
        lambda r: r.service_config.awareness,
        "auto_reload_registry",
        "autoReloadRegistry",
        id="autoReloadRegistry",
    ),
    pytest.param(
        lambda r: r.service_config.awareness,
        "auto_reload_registry",
        "autoRelaodRegistry",
        id="autoRelaodRegistry-typo",
    ),
    pytest.param(
        lambda r: r.service_config.awareness, "max_log_count", "maxLogCount", id="maxLogCount"
    ),
    pytest.param(
        lambda r: r.service_config.awareness,
        "auto_register_service",
        "autoRegisterService",
        id="autoRegisterService",
    ),
    pytest.param(
        lambda r: r.service_config.ports, "maintenance_inc", "maintenanceInc", id="maintenanceInc"
    ),
    pytest.param(lambda r: r.service_config.ports, "random_inc", "randomInc", id="randomInc"),
    pytest.param(
        lambda r: r.services["controller"], "max_pool_size", "maxPoolSize", id="maxPoolSize"
    ),
    pytest.param(
        lambda r: r.services["controller"], "request_timeout", "requestTimeout", id="requestTimeout"
    ),
    pytest.param(
        lambda r: r.services["controller"],
        "request_timeout_renewal",
        "requestTimeoutRenewal",
        id="requestTimeoutRenewal",
    ),
    pytest.param(
        lambda r: r.services["controller"], "awareness_stats", "awarenessStats", id="awarenessStats"
    ),
]


@pytest.mark.parametrize(("owner", "python", "wire"), NAMES)
def test_python_and_wire_attribute_names(
    registry: Registry, owner: Callable[[Registry], Any], python: str, wire: str
) -> None:
    obj = owner(registry)
    value = getattr(obj, python)
    assert value is not None
    assert getattr(obj, wire) is value
    assert hasattr(obj, wire)


def test_documented_spellings(registry: Registry) -> None:
    assert registry.core_dbs is registry.coreDB
    db = registry.core_dbs["hello_core"]
    assert db.registry_location is db.registryLocation
    assert db.registryLocation.l2 == "hello_core"


def test_python_names_are_accepted_on_input() -> None:
    by_python = Registry.model_validate(
        {
            "core_dbs": {"main": {"registry_location": {"l1": "coreDB", "time_loaded": 5}}},
            "service_config": {"awareness": {"cache_ttl": 10}, "ports": {"maintenance_inc": 7}},
        }
    )
    by_wire = Registry.model_validate(
        {
            "coreDB": {"main": {"registryLocation": {"l1": "coreDB", "timeLoaded": 5}}},
            "serviceConfig": {"awareness": {"cacheTTL": 10}, "ports": {"maintenanceInc": 7}},
        }
    )
    assert by_python == by_wire
    assert by_python.maintenance_inc == 7
    assert Database(registry_location={"l1": "x"}).registryLocation.l1 == "x"


def test_dump_uses_wire_names(registry: Registry) -> None:
    dumped = registry.model_dump(mode="json")
    assert {"coreDB", "tenantMetaDB", "serviceConfig", "timeLoaded"} <= set(dumped)
    assert "core_dbs" not in dumped
    assert "registryLocation" in dumped["coreDB"]["hello_core"]
    assert dumped["serviceConfig"]["awareness"]["autoReloadRegistry"] == 3_600_000
    assert "autoRelaodRegistry" not in dumped["serviceConfig"]["awareness"]


@pytest.mark.parametrize("name", ["nope", "coredb", "registrylocation", "_private"])
def test_unknown_attribute_raises_attribute_error(registry: Registry, name: str) -> None:
    with pytest.raises(AttributeError):
        getattr(registry, name)
    assert not hasattr(registry, name)


# -- autoReloadRegistry and the 4.3.4 typo --------------------------------------------


@pytest.mark.parametrize(
    ("awareness", "expected", "reload_ms"),
    [
        pytest.param({"autoReloadRegistry": 2000}, 2000, 2000, id="autoReloadRegistry"),
        pytest.param({"autoRelaodRegistry": 3000}, 3000, 3000, id="gateway-4.3.4-typo"),
        pytest.param({"auto_reload_registry": 4000}, 4000, 4000, id="python-name"),
        pytest.param({"autoRelaodRegistry": "5000"}, 5000, 5000, id="typo-as-string"),
        pytest.param({}, None, DEFAULT_AUTO_RELOAD_MS, id="missing-uses-gateway-default"),
        pytest.param({"autoReloadRegistry": 0}, 0, DEFAULT_AUTO_RELOAD_MS, id="zero-uses-default"),
    ],
)
def test_auto_reload_registry_spellings(
    awareness: dict[str, Any], expected: int | None, reload_ms: int
) -> None:
    registry = Registry.model_validate({"serviceConfig": {"awareness": awareness}})
    assert registry.service_config.awareness.auto_reload_registry == expected
    assert registry.auto_reload_ms == reload_ms
    assert registry.service_config.awareness.model_extra == {}
    dumped = registry.model_dump()["serviceConfig"]["awareness"]
    assert dumped["autoReloadRegistry"] == expected
    assert DEFAULT_AUTO_RELOAD_MS == 3_600_000


def test_auto_reload_of_the_capture_uses_the_typo(captured_registry: dict[str, Any]) -> None:
    awareness = captured_registry["serviceConfig"]["awareness"]
    assert "autoRelaodRegistry" in awareness and "autoReloadRegistry" not in awareness
    registry = Registry.model_validate(captured_registry)
    assert registry.service_config.awareness.auto_reload_registry == 3_600_000


# -- unknown fields are kept ---------------------------------------------------------

#: (where to add ``newField`` in the wire data, how to reach that model)
LEVELS = [
    pytest.param((), lambda r: r, id="top"),
    pytest.param(("coreDB", "hello_core"), lambda r: r.core_dbs["hello_core"], id="database"),
    pytest.param(
        ("coreDB", "hello_core", "registryLocation"),
        lambda r: r.core_dbs["hello_core"].registry_location,
        id="registryLocation",
    ),
    pytest.param(
        ("coreDB", "hello_core", "servers", 0),
        lambda r: r.core_dbs["hello_core"].servers[0],
        id="server",
    ),
    pytest.param(("serviceConfig",), lambda r: r.service_config, id="serviceConfig"),
    pytest.param(
        ("serviceConfig", "awareness"), lambda r: r.service_config.awareness, id="awareness-config"
    ),
    pytest.param(("serviceConfig", "ports"), lambda r: r.service_config.ports, id="ports"),
    pytest.param(("serviceConfig", "key"), lambda r: r.service_config.key, id="key"),
    pytest.param(("services", "hello"), lambda r: r.services["hello"], id="service"),
    pytest.param(("custom", "helloCustom"), lambda r: r.custom["helloCustom"], id="custom"),
    pytest.param(
        ("resources", "cluster", "local_cluster"),
        lambda r: r.resources["cluster"]["local_cluster"],
        id="resource",
    ),
    pytest.param(("awareness",), lambda r: r.awareness, id="awareness"),
]


def _at(data: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        data = data[step]
    return data


@pytest.mark.parametrize(("path", "owner"), LEVELS)
def test_unknown_fields_are_kept(
    captured_registry: dict[str, Any],
    path: tuple[Any, ...],
    owner: Callable[[Registry], Any],
) -> None:
    node = _at(captured_registry, path)
    node["newField"] = copy.deepcopy(NEW)
    node["newScalar"] = 42
    node["newList"] = [1, [2, {"x": 3}]]

    registry = Registry.model_validate(captured_registry)
    model = owner(registry)

    assert isinstance(model, SoajsModel)
    assert thaw(model.newField) == NEW
    assert model.newField["nested"]["list"][1]["deep"] is True
    assert model.newScalar == 42
    assert thaw(model.newList) == [1, [2, {"x": 3}]]
    assert model.model_extra is not None
    assert set(model.model_extra) == {"newField", "newScalar", "newList"}
    dumped = _at(registry.model_dump(mode="json", context=REVEAL), path)
    assert dumped["newField"] == NEW
    assert dumped["newScalar"] == 42
    assert thaw(_at(registry.model_dump(), path)["newField"]) == NEW
    assert _at(json.loads(registry.model_dump_json(context=REVEAL)), path)["newField"] == NEW
    # and they survive a round trip
    assert Registry.model_validate_json(registry.model_dump_json(context=REVEAL)) == registry


@pytest.mark.parametrize(("path", "owner"), LEVELS)
def test_unknown_fields_are_deep_frozen(
    captured_registry: dict[str, Any],
    path: tuple[Any, ...],
    owner: Callable[[Registry], Any],
) -> None:
    _at(captured_registry, path)["newField"] = copy.deepcopy(NEW)
    model = owner(Registry.model_validate(captured_registry))
    assert isinstance(model.newField, FrozenDict)
    assert isinstance(model.newField["nested"]["list"], tuple)
    assert isinstance(model.newField["nested"]["list"][1], FrozenDict)
    with pytest.raises(TypeError):
        model.newField["n"] = 2
    with pytest.raises(TypeError):
        model.newField["nested"]["list"][1]["deep"] = False


# -- missing optional fields ----------------------------------------------------------


def test_empty_registry() -> None:
    for registry in (Registry.model_validate({}), Registry()):
        assert registry.name is None
        assert registry.port is None
        assert registry.core_dbs == {} and isinstance(registry.core_dbs, FrozenDict)
        assert registry.tenant_meta_dbs == {}
        assert registry.services == {} and registry.custom == {} and registry.resources == {}
        assert registry.awareness is None
        assert registry.deployer is None
        assert registry.service_config.key is None
        assert registry.service_config.awareness.auto_reload_registry is None
        assert registry.maintenance_inc is None
        assert registry.auto_reload_ms == DEFAULT_AUTO_RELOAD_MS


@pytest.mark.parametrize(
    ("data", "check"),
    [
        pytest.param(
            {"coreDB": {"provision": {}}},
            lambda r: r.core_dbs["provision"].model_dump(exclude_none=True) == {},
            id="provision-empty-database",
        ),
        pytest.param(
            {"coreDB": {"s": {"servers": None, "credentials": None, "URLParam": None}}},
            lambda r: r.core_dbs["s"].servers is None and r.core_dbs["s"].credentials is None,
            id="nulls",
        ),
        pytest.param(
            {"coreDB": {"s": {"servers": [{}]}}},
            lambda r: (
                (r.core_dbs["s"].servers[0].host, r.core_dbs["s"].servers[0].port) == ("", None)
            ),
            id="empty-server",
        ),
        pytest.param(
            {"coreDB": {"s": {"registryLocation": {}}}},
            lambda r: r.core_dbs["s"].registry_location.l1 is None,
            id="empty-registryLocation",
        ),
        pytest.param(
            {"serviceConfig": {}},
            lambda r: r.service_config.ports.controller is None,
            id="empty-serviceConfig",
        ),
        pytest.param(
            {"serviceConfig": {"awareness": {}, "key": {}, "cookie": {}, "session": {}}},
            lambda r: (
                r.service_config.key.password is None
                and r.service_config.cookie.secret is None
                and r.service_config.session.secret is None
            ),
            id="empty-key-cookie-session",
        ),
        pytest.param(
            {"services": {"hello": {}}},
            lambda r: r.services["hello"].port is None,
            id="empty-service",
        ),
        pytest.param(
            {"custom": {"c": {}}}, lambda r: r.custom["c"].value is None, id="empty-custom"
        ),
        pytest.param(
            {"resources": {"cluster": {"c": {}}}},
            lambda r: r.resources["cluster"]["c"].config is None,
            id="empty-resource",
        ),
        pytest.param({"awareness": {}}, lambda r: r.awareness.host is None, id="empty-awareness"),
        pytest.param({"deployer": {}}, lambda r: r.deployer == {}, id="empty-deployer"),
    ],
)
def test_missing_optional_fields(data: dict[str, Any], check: Callable[[Registry], bool]) -> None:
    assert check(Registry.model_validate(data))


def test_capture_provision_database_is_empty(registry: Registry) -> None:
    provision = registry.core_dbs["provision"]
    assert provision.name is None and provision.servers is None
    assert provision.registry_location is None


# -- numbers sent as strings, and strings sent as numbers -----------------------------


@pytest.mark.parametrize(
    ("data", "get", "expected"),
    [
        pytest.param({"port": "4000"}, lambda r: r.port, 4000, id="registry-port"),
        pytest.param(
            {"coreDB": {"m": {"servers": [{"host": "h", "port": "27017"}]}}},
            lambda r: r.core_dbs["m"].servers[0].port,
            27017,
            id="server-port",
        ),
        pytest.param(
            {"services": {"hello": {"port": "4381"}}},
            lambda r: r.services["hello"].port,
            4381,
            id="service-port",
        ),
        pytest.param(
            {"services": {"hello": {"version": 1}}},
            lambda r: r.services["hello"].version,
            "1",
            id="version-int",
        ),
        pytest.param(
            {"services": {"hello": {"version": 1.5}}},
            lambda r: r.services["hello"].version,
            "1.5",
            id="version-float",
        ),
        pytest.param(
            {"serviceConfig": {"ports": {"controller": "4000", "maintenanceInc": "1000"}}},
            lambda r: (r.service_config.ports.controller, r.maintenance_inc),
            (4000, 1000),
            id="ports",
        ),
        pytest.param(
            {"serviceConfig": {"awareness": {"cacheTTL": "3600000"}}},
            lambda r: r.service_config.awareness.cache_ttl,
            3600000,
            id="cacheTTL",
        ),
        pytest.param(
            {"timeLoaded": "1795381999494"}, lambda r: r.time_loaded, 1795381999494, id="ts"
        ),
        pytest.param(
            {"awareness": {"port": "4000", "interConnect": [{"version": 2, "latest": 2}]}},
            lambda r: (r.awareness.port, r.awareness.inter_connect[0].version),
            (4000, "2"),
            id="awareness-interConnect",
        ),
        pytest.param({"name": 7}, lambda r: r.name, "7", id="name-number"),
    ],
)
def test_numbers_sent_as_strings(
    data: dict[str, Any], get: Callable[[Registry], Any], expected: Any
) -> None:
    value = get(Registry.model_validate(data))
    assert value == expected
    assert type(value) is type(expected)


def test_sample_session_port_string(sample: Registry) -> None:
    servers = sample.core_dbs["session"].servers
    assert servers is not None
    assert servers[0].port == 27017 and isinstance(servers[0].port, int)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"port": "four thousand"}, id="port-words"),
        pytest.param({"port": "4000.5"}, id="port-fraction"),
        pytest.param({"coreDB": []}, id="coreDB-list"),
        pytest.param({"services": {"hello": "4381"}}, id="service-string"),
        pytest.param({"deployer": [1]}, id="deployer-list"),
    ],
)
def test_wrong_shapes_are_rejected(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Registry.model_validate(data)


def test_a_malformed_database_entry_is_isolated_not_the_whole_registry() -> None:
    # one bad coreDB/tenantMetaDB entry fails when resolved (soajs.databases), the
    # registry (services, other databases) still loads
    registry = Registry.model_validate(
        {
            "coreDB": {"m": {"servers": "127.0.0.1:27017"}, "ok": {"name": "ok"}},
            "tenantMetaDB": {"t": None},
        }
    )
    assert registry.core_dbs["m"].invalid_fields == ("servers",)
    assert registry.core_dbs["m"].servers is None
    assert registry.core_dbs["ok"].invalid_fields == ()
    assert registry.tenant_meta_dbs["t"].invalid_fields == ("entry",)


# -- immutability ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("owner", "attr"),
    [
        pytest.param(lambda r: r, "name", id="registry-name"),
        pytest.param(lambda r: r, "core_dbs", id="registry-core_dbs"),
        pytest.param(lambda r: r, "coreDB", id="registry-wire-name"),
        pytest.param(lambda r: r, "brandNew", id="registry-new-attribute"),
        pytest.param(lambda r: r.core_dbs["hello_core"], "name", id="database-name"),
        pytest.param(lambda r: r.core_dbs["hello_core"].servers[0], "port", id="server-port"),
        pytest.param(lambda r: r.service_config.awareness, "cache_ttl", id="awareness-cacheTTL"),
        pytest.param(lambda r: r.service_config.key, "password", id="key-password"),
        pytest.param(lambda r: r.services["hello"], "port", id="service-port"),
    ],
)
def test_setting_an_attribute_raises(
    registry: Registry, owner: Callable[[Registry], Any], attr: str
) -> None:
    model = owner(registry)
    before = model.model_dump(context=REVEAL)
    with pytest.raises(ValidationError, match="frozen"):
        setattr(model, attr, 1)
    with pytest.raises(ValidationError):
        delattr(model, attr)
    assert model.model_dump(context=REVEAL) == before


MAPS = [
    pytest.param(lambda r: r.core_dbs, id="core_dbs"),
    pytest.param(lambda r: r.tenant_meta_dbs, id="tenant_meta_dbs"),
    pytest.param(lambda r: r.services, id="services"),
    pytest.param(lambda r: r.custom, id="custom"),
    pytest.param(lambda r: r.resources, id="resources"),
    pytest.param(lambda r: r.resources["cluster"], id="resources-cluster"),
    pytest.param(lambda r: r.resources["cluster"]["local_cluster"].config, id="resource-config"),
    pytest.param(lambda r: r.core_dbs["hello_core"].url_param, id="URLParam"),
    pytest.param(lambda r: r.core_dbs["hello_core"].streaming, id="streaming"),
    pytest.param(lambda r: r.service_config.logger, id="logger"),
    pytest.param(lambda r: r.service_config.logger["formatter"], id="logger-formatter"),
    pytest.param(lambda r: r.custom["helloCustom"].value, id="custom-value"),
    pytest.param(lambda r: r.services["controller"].hosts, id="hosts"),
    pytest.param(lambda r: r.services["controller"].awareness_stats, id="awarenessStats"),
    pytest.param(lambda r: r.services["controller"].awareness_stats["127.0.0.1"], id="stats-host"),
    pytest.param(lambda r: r.deployer, id="deployer"),
]

MUTATIONS = [
    pytest.param(lambda d: d.__setitem__("x", 1), id="setitem"),
    pytest.param(lambda d: d.__setitem__(next(iter(d), "x"), 1), id="replace"),
    pytest.param(lambda d: d.__delitem__(next(iter(d), "x")), id="delitem"),
    pytest.param(lambda d: d.clear(), id="clear"),
    pytest.param(lambda d: d.pop(next(iter(d), "x"), None), id="pop"),
    pytest.param(lambda d: d.popitem(), id="popitem"),
    pytest.param(lambda d: d.setdefault("x", 1), id="setdefault"),
    pytest.param(lambda d: d.update({"x": 1}), id="update"),
    pytest.param(lambda d: d.update(x=1), id="update-kwargs"),
    pytest.param(lambda d: d.__ior__({"x": 1}), id="ior"),
]


@pytest.mark.parametrize("mutate", MUTATIONS)
@pytest.mark.parametrize("get", MAPS)
def test_nested_json_maps_are_frozen(
    registry: Registry, get: Callable[[Registry], Any], mutate: Callable[[Any], Any]
) -> None:
    mapping = get(registry)
    assert isinstance(mapping, FrozenDict)
    assert isinstance(mapping, dict)
    before = dict(mapping)
    with pytest.raises(TypeError, match="immutable"):
        mutate(mapping)
    assert dict(mapping) == before


def test_augmented_or_assignment_is_refused(registry: Registry) -> None:
    hosts = registry.services["controller"].hosts
    assert hosts is not None
    alias = hosts
    with pytest.raises(TypeError):
        alias |= {"2": ("10.0.0.1",)}
    assert "2" not in hosts


def test_a_copy_can_be_changed(registry: Registry) -> None:
    hosts = registry.services["controller"].hosts
    assert hosts is not None
    changed = dict(hosts)
    changed["2"] = ("10.0.0.1",)
    merged = hosts | {"3": ()}
    assert "2" not in hosts and "3" not in hosts
    assert type(merged) is dict and "3" in merged


@pytest.mark.parametrize(
    "get",
    [
        pytest.param(lambda r: r.core_dbs["hello_core"].servers, id="servers"),
        pytest.param(lambda r: r.services["controller"].hosts["1"], id="hosts-list"),
        pytest.param(
            lambda r: r.resources["cluster"]["local_cluster"].config["servers"],
            id="resource-config-servers",
        ),
    ],
)
def test_lists_become_tuples(registry: Registry, get: Callable[[Registry], Any]) -> None:
    value = get(registry)
    assert isinstance(value, tuple)
    for item in value:
        assert not isinstance(item, list | dict) or isinstance(item, FrozenDict)


def test_freeze() -> None:
    frozen = freeze({"a": [1, {"b": [2]}], "c": ({"d": 1},)})
    assert frozen == {"a": (1, {"b": (2,)}), "c": ({"d": 1},)}
    assert isinstance(frozen, FrozenDict)
    assert isinstance(frozen["a"][1], FrozenDict)
    assert isinstance(frozen["c"][0], FrozenDict)
    assert freeze(frozen) is frozen
    assert freeze([1, [2]]) == (1, (2,))
    assert freeze("s") == "s"


# -- FrozenDict: pickle, copy, json ---------------------------------------------------


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_frozen_dict_pickles(protocol: int) -> None:
    original = freeze({"a": {"b": [1, {"c": 2}]}, "n": None})
    loaded = pickle.loads(pickle.dumps(original, protocol=protocol))
    assert loaded == original
    assert type(loaded) is FrozenDict
    assert type(loaded["a"]) is FrozenDict
    assert type(loaded["a"]["b"][1]) is FrozenDict
    with pytest.raises(TypeError):
        loaded["x"] = 1
    with pytest.raises(TypeError):
        loaded["a"]["b"][1]["c"] = 3


def test_frozen_dict_copies() -> None:
    original = freeze({"a": {"b": [1]}})
    for copied in (copy.copy(original), copy.deepcopy(original)):
        assert copied == original
        assert type(copied) is FrozenDict
        with pytest.raises(TypeError):
            copied["x"] = 1
    holder = copy.deepcopy({"k": original})
    assert holder["k"] == original and type(holder["k"]) is FrozenDict


def test_frozen_dict_is_json_and_repr_like_dict() -> None:
    original = freeze({"a": [1, {"b": None}]})
    assert json.dumps(original) == '{"a": [1, {"b": null}]}'
    assert repr(original) == "{'a': (1, {'b': None})}"
    assert original == {"a": (1, {"b": None})}


def test_registry_pickles_and_deep_copies(registry: Registry) -> None:
    for clone in (pickle.loads(pickle.dumps(registry)), copy.deepcopy(registry)):
        assert clone == registry
        assert type(clone.core_dbs) is FrozenDict
        assert type(clone.services["controller"].hosts) is FrozenDict
        assert clone.coreDB is clone.core_dbs
        key = clone.service_config.key
        assert key is not None and key.password is not None
        assert key.password.get_secret_value() == "soajs-python holdout rig key"
        with pytest.raises(ValidationError):
            clone.name = "x"  # type: ignore[misc]


# -- shared across threads ------------------------------------------------------------


def test_models_are_shared_across_threads(registry: Registry) -> None:
    expected = registry.model_dump_json(context=REVEAL)
    workers = 8
    barrier = threading.Barrier(workers)

    hosts = registry.services["controller"].hosts
    assert hosts is not None

    def work(index: int) -> tuple[set[str], int]:
        barrier.wait()
        seen: set[str] = set()
        refused = 0
        for _ in range(100):
            if index % 2:  # half the threads keep trying to change things
                for mutate in (
                    lambda: registry.core_dbs.__setitem__("x", Database()),
                    lambda: hosts.update({"2": ()}),
                    lambda: setattr(registry, "name", "changed"),
                    lambda: setattr(registry.service_config.awareness, "cache_ttl", 1),
                ):
                    try:
                        mutate()
                    except (TypeError, ValidationError):
                        refused += 1
            assert registry.coreDB["hello_core"].registryLocation.l2 == "hello_core"
            seen.add(registry.model_dump_json(context=REVEAL))
        return seen, refused

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(work, range(workers)))

    for index, (seen, refused) in enumerate(results):
        assert seen == {expected}
        assert refused == (400 if index % 2 else 0)
    assert registry.model_dump_json(context=REVEAL) == expected


# -- secrets ------------------------------------------------------------------------


def _key_password(r: Registry) -> Any:
    return r.service_config.key.password  # type: ignore[union-attr]


def _cookie_secret(r: Registry) -> Any:
    return r.service_config.cookie.secret  # type: ignore[union-attr]


def _session_secret(r: Registry) -> Any:
    return r.service_config.session.secret  # type: ignore[union-attr]


def _credentials(kind: str, name: str, part: str) -> Callable[[Registry], Any]:
    def get(r: Registry) -> Any:
        dbs = r.core_dbs if kind == "coreDB" else r.tenant_meta_dbs
        return getattr(dbs[name].credentials, part)

    return get


#: (which registry, how to reach the secret, where it sits in the wire data, its value)
SECRETS = [
    pytest.param(
        "sample",
        _credentials("coreDB", "main", "password"),
        ("coreDB", "main", "credentials", "password"),
        "demo-db-password-do-not-log",
        id="coreDB-password",
    ),
    pytest.param(
        "sample",
        _credentials("coreDB", "main", "username"),
        ("coreDB", "main", "credentials", "username"),
        "demo_app",
        id="coreDB-username",
    ),
    pytest.param(
        "sample",
        _credentials("tenantMetaDB", "orders", "password"),
        ("tenantMetaDB", "orders", "credentials", "password"),
        "tenant-db-password-do-not-log",
        id="tenantMetaDB-password",
    ),
    pytest.param(
        "sample",
        _credentials("tenantMetaDB", "orders", "username"),
        ("tenantMetaDB", "orders", "credentials", "username"),
        "tenant_rw",
        id="tenantMetaDB-username",
    ),
    pytest.param(
        "sample",
        _key_password,
        ("serviceConfig", "key", "password"),
        "demo registry key password",
        id="sample-key-password",
    ),
    pytest.param(
        "sample",
        _cookie_secret,
        ("serviceConfig", "cookie", "secret"),
        "demo cookie secret",
        id="sample-cookie-secret",
    ),
    pytest.param(
        "sample",
        _session_secret,
        ("serviceConfig", "session", "secret"),
        "demo session secret",
        id="sample-session-secret",
    ),
    pytest.param(
        "capture",
        _key_password,
        ("serviceConfig", "key", "password"),
        "soajs-python holdout rig key",
        id="capture-key-password",
    ),
    pytest.param(
        "capture",
        _cookie_secret,
        ("serviceConfig", "cookie", "secret"),
        "holdout cookie secret",
        id="capture-cookie-secret",
    ),
]


def _pick(which: str, registry: Registry, sample: Registry) -> Registry:
    return sample if which == "sample" else registry


def _renderings(model: Any) -> dict[str, str]:
    texts = {"repr": repr(model), "str": str(model), "format": f"{model}"}
    if not isinstance(model, SoajsModel):  # a FrozenDict of models (coreDB)
        return texts
    return {
        **texts,
        "model_dump_json": model.model_dump_json(),
        "model_dump_json-indent": model.model_dump_json(indent=2),
        "str-model_dump": str(model.model_dump()),
        "str-model_dump-python-names": str(model.model_dump(by_alias=False)),
        "json-model_dump-json-mode": json.dumps(model.model_dump(mode="json")),
        "reveal-false": model.model_dump_json(context={"reveal_secrets": False}),
    }


@pytest.mark.parametrize(("which", "get", "path", "secret"), SECRETS)
def test_secret_is_never_rendered(
    registry: Registry,
    sample: Registry,
    which: str,
    get: Callable[[Registry], Any],
    path: tuple[str, ...],
    secret: str,
) -> None:
    model = _pick(which, registry, sample)
    value = get(model)
    assert isinstance(value, SecretStr)
    # every model on the way down, and the secret itself
    owners: list[Any] = [model]
    node: Any = model
    for step in path[:-1]:
        node = node[step] if isinstance(node, dict) else getattr(node, step)
        owners.append(node)
    for owner in owners:
        for how, text in _renderings(owner).items():
            assert secret not in text, f"{secret!r} in {how} of {type(owner).__name__}"
    for text in (repr(value), str(value), f"{value}"):
        assert secret not in text


@pytest.mark.parametrize(("which", "get", "path", "secret"), SECRETS)
def test_secret_is_masked_in_dumps(
    registry: Registry,
    sample: Registry,
    which: str,
    get: Callable[[Registry], Any],
    path: tuple[str, ...],
    secret: str,
) -> None:
    model = _pick(which, registry, sample)
    assert _at(model.model_dump(), path) == MASK
    assert _at(model.model_dump(mode="json"), path) == MASK
    assert _at(json.loads(model.model_dump_json()), path) == MASK


@pytest.mark.parametrize(("which", "get", "path", "secret"), SECRETS)
def test_secret_is_readable_on_purpose(
    registry: Registry,
    sample: Registry,
    which: str,
    get: Callable[[Registry], Any],
    path: tuple[str, ...],
    secret: str,
) -> None:
    model = _pick(which, registry, sample)
    assert get(model).get_secret_value() == secret
    revealed = model.model_dump_json(context=REVEAL)
    assert secret in revealed
    assert _at(json.loads(revealed), path) == secret
    assert _at(model.model_dump(context=REVEAL), path) == secret


@pytest.mark.parametrize(("which", "get", "path", "secret"), SECRETS)
def test_secret_is_not_logged(
    caplog: pytest.LogCaptureFixture,
    registry: Registry,
    sample: Registry,
    which: str,
    get: Callable[[Registry], Any],
    path: tuple[str, ...],
    secret: str,
) -> None:
    model = _pick(which, registry, sample)
    logger = logging.getLogger("tests.unit.test_models.secrets")
    owner = model
    for step in path[:-2]:
        owner = owner[step] if isinstance(owner, dict) else getattr(owner, step)
    with caplog.at_level(logging.DEBUG, logger=logger.name):
        logger.info("registry %s", model)
        logger.info("registry %r", model)
        logger.warning("part %s / %r", owner, owner)
        logger.error("secret %s %r", get(model), get(model))
        logger.debug("dump %s", model.model_dump())
    assert len(caplog.records) == 5
    for record in caplog.records:
        assert secret not in record.getMessage()
    assert secret not in caplog.text
    assert MASK in caplog.text


def test_masked_secret_reprs_show_the_field_is_there(registry: Registry, sample: Registry) -> None:
    assert "password=SecretStr('**********')" in repr(registry.service_config.key)
    credentials = sample.core_dbs["main"].credentials
    assert isinstance(credentials, Credentials)
    assert repr(credentials) == "Credentials(username='**********', password='**********')"
    # a database hides its credentials from repr altogether
    assert "credentials" not in repr(sample.core_dbs["main"])


def test_credentials_extras_are_hidden_from_repr() -> None:
    credentials = Credentials.model_validate(
        {"username": "u-secret", "password": "p-secret", "token": "t-secret"}
    )
    assert "secret" not in repr(credentials)
    assert "secret" not in str(credentials)


def test_validation_error_does_not_show_a_secret() -> None:
    secret = "pw-in-a-bad-shape"
    with pytest.raises(ValidationError) as excinfo:
        Registry.model_validate({"services": {"main": f"admin:{secret}"}})
    assert secret not in str(excinfo.value)
    assert secret not in repr(excinfo.value.errors(include_input=False))
    # a database entry in a bad shape is dropped field by field, never shown
    registry = Registry.model_validate({"coreDB": {"main": {"credentials": f"admin:{secret}"}}})
    entry = registry.core_dbs["main"]
    assert entry.invalid_fields == ("credentials",) and entry.credentials is None
    assert secret not in repr(registry) and secret not in str(registry.model_dump())


# -- ContextData (the request context) ----------------------------------------------

INJECT = load_fixture("soajsinjectobj_decoded.json")


def context_dict(header: dict[str, Any]) -> dict[str, Any]:
    """Fold a decoded soajsinjectobj into the ContextData shape, as PROTOCOL.md says."""
    key = header.get("key") or {}
    package = header.get("package") or {}
    application = dict(header.get("application") or {})
    application["package_acl"] = package.get("acl")
    application["package_acl_all_env"] = package.get("acl_all_env")
    tenant = dict(header["tenant"])
    tenant["key"] = {"iKey": key.get("iKey"), "eKey": key.get("eKey")}
    tenant["application"] = application
    data: dict[str, Any] = {"tenant": tenant, "services_config": key.get("config") or {}}
    for name in ("urac", "device", "geo", "awareness", "param"):
        if name in header:
            data[name] = header[name]
    return data


@pytest.fixture
def context() -> ContextData:
    return ContextData.model_validate(context_dict(copy.deepcopy(INJECT)))


def test_context_from_the_real_header(context: ContextData) -> None:
    tenant = context.tenant
    assert (tenant.id, tenant.code, tenant.name) == (
        "5f0a1b2c3d4e5f6a7b8c9d01",
        "TST1",
        "Test Tenant One",
    )
    assert (tenant.type, tenant.locked) == ("product", False)
    assert tenant.profile == {"plan": "gold", "region": "local"}
    assert tenant.key.i_key == INJECT["key"]["iKey"]
    assert tenant.key.iKey == INJECT["key"]["iKey"]
    assert tenant.key.e_key == tenant.key.eKey == INJECT["key"]["eKey"]

    app = tenant.application
    assert (app.product, app.package) == ("HELLO", "HELLO_BASIC")
    assert app.app_id == app.appId == "5f0a1b2c3d4e5f6a7b8c9d02"
    assert app.acl is None and app.acl_all_env is None
    assert thaw(app.package_acl) == INJECT["package"]["acl"]
    assert thaw(app.package_acl_all_env) == INJECT["package"]["acl_all_env"]
    assert app.package_acl is not None
    assert app.package_acl["hello"]["1"]["apisPermission"] == "unrestricted"

    assert thaw(context.services_config) == INJECT["key"]["config"]
    assert context.service_config("hello") == {"greeting": "hello from key config", "limit": 5}
    assert context.service_config("mail") == {"from": "me@localhost"}
    assert context.service_config("nosuch") == {}

    assert context.device == "Python-urllib/3.11"
    assert context.geo == {"ip": "127.0.0.1"}
    awareness = context.awareness
    assert isinstance(awareness, Awareness)
    assert (awareness.host, awareness.port) == ("127.0.0.1", 4000)
    assert awareness.inter_connect is not None
    assert awareness.interConnect is awareness.inter_connect
    (hello,) = awareness.inter_connect
    assert (hello.name, hello.version, hello.host, hello.port, hello.latest) == (
        "hello",
        "1",
        "127.0.0.1",
        4381,
        "1",
    )
    assert context.urac is None
    assert context.param is None
    assert context.registry is None
    assert context.raw_header is None


def test_context_is_frozen(context: ContextData) -> None:
    with pytest.raises(ValidationError):
        context.device = "x"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        context.tenant.code = "OTHER"  # type: ignore[misc]
    assert context.tenant.application.package_acl is not None
    with pytest.raises(TypeError):
        context.tenant.application.package_acl["hello"]["1"]["access"] = True
    with pytest.raises(TypeError):
        context.services_config["hello"]["limit"] = 6
    get = context.tenant.application.package_acl["hello"]["1"]["get"]
    assert isinstance(get, tuple) and isinstance(get[0], FrozenDict)


def test_context_key_is_hidden_from_repr(context: ContextData) -> None:
    for text in (repr(context), str(context), repr(context.tenant.key)):
        assert INJECT["key"]["eKey"] not in text
        assert INJECT["key"]["iKey"] not in text


@pytest.mark.parametrize(
    "tenant",
    [
        pytest.param({"code": "TST1"}, id="no-id"),
        pytest.param({"id": "5f0a"}, id="no-code"),
        pytest.param({}, id="empty"),
        pytest.param(None, id="null"),
        pytest.param("TST1", id="string"),
        pytest.param({"id": None, "code": "TST1"}, id="id-null"),
    ],
)
def test_context_tenant_id_and_code_are_required(tenant: Any) -> None:
    with pytest.raises(ValidationError):
        ContextData.model_validate({"tenant": tenant})


def test_context_without_tenant_is_refused() -> None:
    with pytest.raises(ValidationError):
        ContextData.model_validate({"geo": {"ip": "10.0.0.4"}})


def test_context_minimal_and_optional_parts() -> None:
    minimal = ContextData.model_validate({"tenant": {"id": 12, "code": "T"}})
    assert minimal.tenant.id == "12"
    assert minimal.services_config == {} and isinstance(minimal.services_config, FrozenDict)
    assert (minimal.urac, minimal.device, minimal.geo, minimal.awareness) == (None,) * 4
    assert minimal.tenant.key.i_key is None
    assert minimal.tenant.application.package_acl is None

    with_object_device = ContextData.model_validate(
        {"tenant": {"id": "1", "code": "T"}, "device": {"ua": "x"}, "newField": [1]}
    )
    assert with_object_device.device == {"ua": "x"}
    assert isinstance(with_object_device.device, FrozenDict)
    assert with_object_device.newField == (1,)


def test_context_with_urac() -> None:
    header = copy.deepcopy(INJECT)
    header["urac"] = {
        "_id": "u1",
        "username": "jdoe",
        "firstName": "Jöhn",
        "lastName": "Doe",
        "email": "j@example.com",
        "groups": ["owner"],
        "tenant": {"id": "5f0a1b2c3d4e5f6a7b8c9d01", "code": "TST1"},
        "acl_AllEnv": {"dev": {}},
        "groupsConfig": {"owner": {"x": [1]}},
    }
    urac = ContextData.model_validate(context_dict(header)).urac
    assert urac is not None
    assert (urac.id, urac.username, urac.first_name, urac.lastName) == ("u1", "jdoe", "Jöhn", "Doe")
    assert urac.groups == ("owner",)
    assert urac.tenant is not None and urac.tenant.code == "TST1"
    assert urac.acl_all_env == {"dev": {}}
    assert urac.groups_config is not None and urac.groups_config["owner"]["x"] == (1,)


class _Source:
    """The smallest registry source: anything with a ``registry`` attribute."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry


class _NotLoaded:
    @property
    def registry(self) -> Registry:
        raise RuntimeError("not loaded yet")


def test_context_registry_reads_the_current_registry_of_its_source(
    context: ContextData,
) -> None:
    assert context.registry is None
    first = Registry.model_validate({"name": "first"})
    second = Registry.model_validate({"name": "second"})
    source = _Source(first)

    assert context.bind(source, b'{"tenant": {}}') is context
    assert context.registry is first
    source.registry = second
    assert context.registry is second
    assert context.raw_header == b'{"tenant": {}}'

    context.bind(None)
    assert context.registry is None


def test_context_registry_is_none_while_the_source_is_not_loaded(context: ContextData) -> None:
    context.bind(_NotLoaded())
    assert context.registry is None


def test_context_registry_source_is_per_context() -> None:
    data = context_dict(copy.deepcopy(INJECT))
    one, two = ContextData.model_validate(data), ContextData.model_validate(data)
    one.bind(_Source(Registry(name="x")))
    assert one.registry is not None and one.registry.name == "x"
    assert two.registry is None


# -- the control-plane envelope -------------------------------------------------------

GATEWAY = load_fixture("gateway_responses.json")


@pytest.mark.parametrize(
    ("payload", "ok", "first"),
    [
        pytest.param(
            load_fixture("getRegistry_dev_hello.json")["body"], True, None, id="real-getRegistry"
        ),
        pytest.param(
            load_fixture("maintenance_heartbeat.json")["body"], True, None, id="heartbeat"
        ),
        pytest.param(
            GATEWAY["unknown_service"]["body"], False, (130, "Unknown service."), id="real-130"
        ),
        pytest.param(
            GATEWAY["nokey_private_service"]["body"],
            False,
            (132, "A valid key is needed to access any API."),
            id="real-132",
        ),
        pytest.param(
            GATEWAY["badkey_private_service"]["body"],
            False,
            (148, "Unable to load the key information"),
            id="real-148",
        ),
        pytest.param({"result": False}, False, None, id="result-false-alone"),
        pytest.param({}, False, None, id="empty"),
        pytest.param({"result": True, "errors": None}, True, None, id="errors-null"),
        pytest.param(
            {"result": True, "errors": {"codes": [1], "details": []}},
            True,
            None,
            id="codes-without-details",
        ),
        pytest.param(
            {"result": True, "errors": {"details": [{"code": 9, "message": "x"}]}},
            False,
            (9, "x"),
            id="details-with-result-true",
        ),
        pytest.param(
            {
                "result": False,
                "errors": {
                    "codes": [1, 2],
                    "details": [{"code": 1, "message": "one"}, {"code": 2, "message": "two"}],
                },
            },
            False,
            (1, "one"),
            id="first-of-two",
        ),
        pytest.param(
            {"result": False, "errors": {"details": [{"code": "7"}]}},
            False,
            (7, ""),
            id="code-string-no-message",
        ),
    ],
)
def test_envelope_ok_and_first_error(
    payload: dict[str, Any], ok: bool, first: tuple[int, str] | None
) -> None:
    envelope = Envelope.model_validate(payload)
    assert envelope.ok is ok
    error = envelope.first_error
    if first is None:
        assert error is None
    else:
        assert error is not None
        assert (error.code, error.message) == first


def test_envelope_of_the_capture() -> None:
    body = load_fixture("getRegistry_dev_hello.json")["body"]
    envelope = Envelope.model_validate(body)
    assert envelope.result is True
    assert envelope.ts == 1795382001553
    assert envelope.service is not None
    assert (envelope.service.service, envelope.service.version, envelope.service.route) == (
        "soajs.controller",
        "4.3.4",
        "/getRegistry",
    )
    assert envelope.data == body["data"]
    assert Registry.model_validate(envelope.data).name == "dev"


def test_envelope_keeps_unknown_fields() -> None:
    envelope = Envelope.model_validate({"result": True, "newField": {"a": [1]}})
    assert envelope.newField == {"a": (1,)}
    assert envelope.model_dump(mode="json")["newField"] == {"a": [1]}
