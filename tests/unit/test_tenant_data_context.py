"""``RegistryManager.tenant_db``/``core_db`` and ``context.tenant_db``/``service_config()``."""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import pytest

from soajs import RegistryManager
from soajs.errors import (
    ConfigurationError,
    CoreDatabaseNotFoundError,
    RegistryNotLoadedError,
    TenantCodeError,
    TenantDatabaseNotFoundError,
)
from soajs.models.context import ContextData
from soajs.registry.offline import OfflineRegistryManager
from soajs.testing import make_context, make_registry_data


def _registry(captured_registry: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(captured_registry)
    data["tenantMetaDB"]["hello_tenant"]["prefix"] = "live_"
    data["tenantMetaDB"]["hello_tenant"]["credentials"] = {"username": "u", "password": "p@ss"}
    return data


@pytest.fixture
def manager(captured_registry: dict[str, Any]) -> OfflineRegistryManager:
    return RegistryManager.from_dict(_registry(captured_registry), "hello")


def test_the_manager_resolves_tenant_and_core_databases(manager: OfflineRegistryManager) -> None:
    db = manager.tenant_db("hello_tenant", "TST1")
    assert db.name == "live_TST1_hello_tenant"
    assert db.uri() == "mongodb://u:p%40ss@127.0.0.1:27017/"
    assert manager.core_db("hello_core").name == "hello_core"
    with pytest.raises(TenantDatabaseNotFoundError):
        manager.tenant_db("hello_core", "TST1")
    with pytest.raises(CoreDatabaseNotFoundError):
        manager.core_db("hello_tenant")
    with pytest.raises(TenantCodeError):
        manager.tenant_db("hello_tenant", None)


def test_a_manager_with_no_registry_says_so() -> None:
    manager = RegistryManager("hello", "dev", registry_api="127.0.0.1:9", autostart=False)
    try:
        with pytest.raises(RegistryNotLoadedError):
            manager.tenant_db("x", "T1")
        with pytest.raises(RegistryNotLoadedError):
            manager.core_db("x")
    finally:
        manager.stop()


def test_the_resolution_follows_a_reload(captured_registry: dict[str, Any]) -> None:
    data = _registry(captured_registry)
    manager = RegistryManager.from_dict(data, "hello")
    assert manager.tenant_db("hello_tenant", "T1").name == "live_T1_hello_tenant"
    data["tenantMetaDB"]["hello_tenant"]["prefix"] = "next_"
    manager.reload()
    assert manager.tenant_db("hello_tenant", "T1").name == "next_T1_hello_tenant"


def test_the_context_resolves_the_requests_tenant(manager: OfflineRegistryManager) -> None:
    ctx = make_context(manager, tenant_code="ACME")
    db = ctx.tenant_db("hello_tenant")
    assert db.name == "live_ACME_hello_tenant" and db.tenant_code == "ACME"
    with pytest.raises(TenantDatabaseNotFoundError):
        ctx.tenant_db("nosuch")


def test_a_context_with_a_hostile_tenant_code_gets_an_error_not_a_database(
    manager: OfflineRegistryManager,
) -> None:
    ctx = make_context(manager, tenant_code="../admin")
    with pytest.raises(TenantCodeError):
        ctx.tenant_db("hello_tenant")


def test_a_context_with_no_registry(captured_registry: dict[str, Any]) -> None:
    ctx = make_context(None)
    with pytest.raises(RegistryNotLoadedError):
        ctx.tenant_db("hello_tenant")

    class Source:  # a registry source that is not a RegistryManager
        registry = RegistryManager.from_dict(_registry(captured_registry), "hello").registry

    ctx = make_context(Source(), tenant_code="Z9")
    assert ctx.tenant_db("hello_tenant").name == "live_Z9_hello_tenant"


# -- service_config -----------------------------------------------------------------

KEY_CONFIG = {
    "mail": {"from": "me@localhost"},
    "hello": {"greeting": "hi", "limits": {"daily": 5, "tags": ["a", {"b": 1}]}},
    "listed": [1, 2],
    "nulled": None,
}


def plain(value: Any) -> Any:
    """What the frozen structure holds, as JSON reads it (tuples become lists)."""
    return json.loads(json.dumps(value))


@pytest.fixture
def ctx(manager: OfflineRegistryManager) -> ContextData:
    return make_context(manager, services_config=copy.deepcopy(KEY_CONFIG))


def test_service_config_defaults_to_the_services_own_name(ctx: ContextData) -> None:
    assert plain(ctx.service_config()) == KEY_CONFIG["hello"]
    assert ctx.service_config("mail") == {"from": "me@localhost"}
    assert ctx.service_config("hello") == ctx.service_config()


@pytest.mark.parametrize("name", ["nosuch", "listed", "nulled", ""])
def test_a_missing_service_config_is_an_empty_mapping(ctx: ContextData, name: str) -> None:
    value = ctx.service_config(name)
    assert value == {} and not value
    with pytest.raises(TypeError):
        value["x"] = 1


def test_service_config_is_deeply_immutable_and_masked_in_repr(ctx: ContextData) -> None:
    config = ctx.service_config()
    for change in (
        lambda: config.__setitem__("greeting", "x"),
        lambda: config["limits"].__setitem__("daily", 6),
        lambda: config["limits"]["tags"][1].__setitem__("b", 2),
        lambda: config.update({}),
        lambda: config.pop("greeting"),
    ):
        with pytest.raises(TypeError):
            change()
    assert isinstance(config["limits"]["tags"], tuple)
    assert "hi" not in repr(config) and "hi" not in str(config)
    assert config["greeting"] == "hi"  # read on purpose
    assert plain(pickle.loads(pickle.dumps(config))) == KEY_CONFIG["hello"]


def test_service_config_without_a_name_needs_a_bound_service() -> None:
    ctx = make_context(None, services_config=KEY_CONFIG)
    with pytest.raises(ConfigurationError, match="service name"):
        ctx.service_config()
    assert ctx.service_config("hello")["greeting"] == "hi"


def test_service_config_of_the_real_gateway_header(
    captured_registry: dict[str, Any],
) -> None:
    from soajs.context import parse_inject_header
    from tests.conftest import FIXTURES

    raw = (FIXTURES / "soajsinjectobj_raw.txt").read_bytes().strip()
    context = parse_inject_header([raw], 65536).context
    assert context is not None
    manager = RegistryManager.from_dict(make_registry_data(service="hello"), "hello")
    context.bind(manager, raw)
    assert context.service_config() == {"greeting": "hello from key config", "limit": 5}
    assert context.service_config("otherservice") == {}
