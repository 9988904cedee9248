"""The client cache, red-team edges: stale databases, option-only reloads, a close that
hangs, async clients across a reload, a storm of first uses (real pymongo clients
pointing at a closed loopback port: no MongoDB server can be installed here)."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from pymongo.errors import InvalidOperation, ServerSelectionTimeoutError

from soajs import RegistryManager
from soajs.databases.mongo_cache import MongoClients
from soajs.errors import (
    CoreDatabaseNotFoundError,
    DatabaseConfigError,
    TenantDatabaseNotFoundError,
)
from soajs.testing import make_database, make_registry_data
from tests.integration.test_mongo_clients import FAST, state
from tests.support import free_port, wait_until


def _data(port: int) -> dict[str, Any]:
    data = make_registry_data(databases={"main": make_database("main", port=port)})
    data["tenantMetaDB"] = {"orders": make_database("#TENANT_NAME#_orders", port=port)}
    return data


@pytest.fixture
def data() -> dict[str, Any]:
    return _data(free_port())


@pytest.fixture
def manager(data: dict[str, Any]) -> Any:
    manager = RegistryManager.from_dict(data, "hello")
    manager.mongo = MongoClients(grace=0, client_options=FAST)
    yield manager
    manager.stop()


def test_a_kept_database_whose_entry_left_the_registry_gets_no_client(
    manager: Any, data: dict[str, Any]
) -> None:
    kept_core = manager.core_db("main")
    kept_tenant = manager.tenant_db("orders", "T1")
    old = manager.mongo.client(kept_core)
    del data["coreDB"]["main"]
    del data["tenantMetaDB"]["orders"]
    manager.reload()
    assert wait_until(lambda: state(old) == "closed", timeout=5)
    with pytest.raises(CoreDatabaseNotFoundError):
        manager.mongo.client(kept_core)
    with pytest.raises(TenantDatabaseNotFoundError):
        manager.mongo.database(kept_tenant)
    assert len(manager.mongo) == 0  # nothing came back to life with the old settings


def test_a_kept_database_whose_entry_became_unusable_is_refused(
    manager: Any, data: dict[str, Any]
) -> None:
    kept = manager.core_db("main")
    manager.mongo.client(kept)
    data["coreDB"]["main"]["servers"] = []
    manager.reload()
    with pytest.raises(DatabaseConfigError, match="servers"):
        manager.mongo.client(kept)
    assert len(manager.mongo) == 0


def test_a_reload_that_changes_only_options_rebuilds_the_client(
    manager: Any, data: dict[str, Any]
) -> None:
    old = manager.mongo.client(manager.tenant_db("orders", "T1"))
    data["tenantMetaDB"]["orders"]["URLParam"] = {"appname": "orders-v2"}
    manager.reload()
    new = manager.mongo.client(manager.tenant_db("orders", "T1"))
    assert new is not old
    assert new.options.pool_options.metadata["application"]["name"] == "orders-v2"
    assert wait_until(lambda: state(old) == "closed", timeout=5)


class _Hanging:
    """Stands for a client whose close() never returns (a dead server, a stuck socket)."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def close(self) -> None:
        self.release.wait(30)


def test_stop_returns_within_its_bound_when_a_close_hangs(data: dict[str, Any]) -> None:
    manager = RegistryManager.from_dict(data, "hello")
    clients = MongoClients(grace=60, client_options=FAST)
    hanging = [_Hanging(), _Hanging(), _Hanging()]
    made = iter(hanging)
    clients._make = lambda flavour, uri: next(made)  # type: ignore[method-assign]
    manager.mongo = clients
    try:
        manager.mongo.client(manager.core_db("main"))
        manager.mongo.client(manager.tenant_db("orders", "T1"))
        manager.mongo.async_client(manager.core_db("main"))
        start = time.monotonic()
        manager.stop(timeout=1)
        assert time.monotonic() - start < 3 * 1 + 1
    finally:
        for client in hanging:
            client.release.set()


def test_async_clients_follow_a_password_change(manager: Any, data: dict[str, Any]) -> None:
    manager.mongo = MongoClients(grace=0.3, client_options=FAST)

    async def scenario() -> str:
        old = manager.mongo.async_client(manager.core_db("main"))
        data["coreDB"]["main"]["credentials"]["password"] = "rotated"
        await asyncio.to_thread(manager.reload)
        new = manager.mongo.async_client(manager.core_db("main"))
        assert new is not old
        assert new.options.pool_options._credentials.password == "rotated"
        await asyncio.sleep(1.0)  # the grace, then the close runs on this loop
        try:
            await old.admin.command("ping")
        except InvalidOperation:
            outcome = "closed"
        except ServerSelectionTimeoutError:  # pragma: no cover - the failure shown
            outcome = "open"
        await manager.mongo.release_loop()
        return outcome

    assert asyncio.run(scenario()) == "closed"


def test_a_storm_of_first_uses_makes_one_client(manager: Any) -> None:
    made: list[Any] = []
    real = manager.mongo._make

    def counting(flavour: str, uri: str) -> Any:
        client = real(flavour, uri)
        made.append(client)
        return client

    manager.mongo._make = counting
    barrier = threading.Barrier(32)

    def first_use(_: int) -> Any:
        barrier.wait(10)
        return manager.mongo.client(manager.tenant_db("orders", "T1"))

    with ThreadPoolExecutor(32) as pool:
        got = list(pool.map(first_use, range(32)))
    assert len({id(c) for c in got}) == 1
    assert len(manager.mongo) == 1
    losers = [c for c in made if c is not got[0]]
    for loser in losers:
        assert wait_until(lambda: state(loser) == "closed", timeout=5)  # noqa: B023
