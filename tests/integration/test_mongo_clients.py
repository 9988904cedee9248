"""The MongoDB client cache with real pymongo clients (no MongoDB server can be installed
here: the clients point at a closed loopback port, so an operation on a live client
fails with ``ServerSelectionTimeoutError`` and on a closed one with ``InvalidOperation``)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient, MongoClient
from pymongo.errors import InvalidOperation, ServerSelectionTimeoutError

from soajs import RegistryManager
from soajs.controlplane import ControlPlaneServer
from soajs.databases.mongo_cache import MongoClients
from soajs.errors import DatabaseConfigError, RegistryError
from soajs.testing import make_database, make_registry_data
from tests.support import free_port, wait_until

FAST = {"serverSelectionTimeoutMS": 100}


def _data(port: int, password: str = "first-p@ss:/%") -> dict[str, Any]:
    main = make_database("main", port=port, password=password)
    data = make_registry_data(databases={"main": main, "other": make_database("other", port=port)})
    data["tenantMetaDB"] = {
        "orders": dict(make_database("#TENANT_NAME#_orders", port=port, password=password)),
    }
    return data


def state(client: Any) -> str:
    """``open`` (usable: no server, so the operation times out) or ``closed``."""
    try:
        client.admin.command("ping")
    except ServerSelectionTimeoutError:
        return "open"
    except InvalidOperation:
        return "closed"
    return "answered"  # pragma: no cover - no server listens there


@pytest.fixture
def mongo_port() -> int:
    return free_port()  # nothing listens there


@pytest.fixture
def manager(mongo_port: int) -> Any:
    manager = RegistryManager.from_dict(_data(mongo_port), "hello")
    manager.mongo = MongoClients(grace=0.5, client_options=FAST)
    yield manager
    manager.stop()


def test_one_client_per_location_shared_by_the_tenants(manager: Any) -> None:
    a, b = manager.tenant_db("orders", "A1"), manager.tenant_db("orders", "B2")
    client = manager.mongo.client(a)
    assert isinstance(client, MongoClient)
    assert manager.mongo.client(b) is client
    assert manager.mongo.database(a).name == "A1_orders"
    assert manager.mongo.database(b).name == "B2_orders"
    main = manager.mongo.client(manager.core_db("main"))
    other = manager.mongo.client(manager.core_db("other"))
    assert len({id(client), id(main), id(other)}) == 3
    assert len(manager.mongo) == 3
    seeds = client.topology_description.server_descriptions()
    assert list(seeds) == [("127.0.0.1", manager.tenant_db("orders", "A1").servers[0].port)]
    assert state(client) == "open"


def test_a_bad_entry_is_refused_before_any_client(mongo_port: int) -> None:
    data = _data(mongo_port)
    data["coreDB"]["main"]["servers"] = [{"host": "evil@host", "port": 1}]
    manager = RegistryManager.from_dict(data, "hello")
    try:
        with pytest.raises(DatabaseConfigError, match="not a host name"):
            manager.mongo.client(manager.core_db("main"))
        assert len(manager.mongo) == 0
    finally:
        manager.stop()


def test_racing_threads_get_one_client(manager: Any) -> None:
    db = manager.core_db("main")
    barrier = threading.Barrier(16)

    def get(_: int) -> Any:
        barrier.wait(5)
        return manager.mongo.client(db)

    with ThreadPoolExecutor(16) as pool:
        clients = list(pool.map(get, range(16)))
    assert len({id(c) for c in clients}) == 1
    assert len(manager.mongo) == 1


def test_the_cache_is_bounded_least_recently_used_first(mongo_port: int) -> None:
    manager = RegistryManager.from_dict(_data(mongo_port), "hello")
    manager.mongo = clients = MongoClients(max_clients=2, grace=0, client_options=FAST)
    try:
        main = clients.client(manager.core_db("main"))
        other = clients.client(manager.core_db("other"))
        assert clients.client(manager.core_db("main")) is main  # main is now the most recent
        clients.client(manager.tenant_db("orders", "T1"))
        assert len(clients) == 2
        assert wait_until(lambda: state(other) == "closed", timeout=5)
        assert state(main) == "open"
    finally:
        manager.stop()


def _write(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)
    stamp = time.time() + 2  # a distinct mtime even on coarse file systems
    os.utime(path, (stamp, stamp))


def test_a_reload_that_changes_the_password_while_clients_are_in_use(
    tmp_path: Path, mongo_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    registry = tmp_path / "registry.json"
    _write(registry, _data(mongo_port, password="first-p@ss:/%"))
    with ControlPlaneServer(registry) as plane:
        manager = RegistryManager(
            "hello",
            "dev",
            registry_api=plane.address,
            auto_reload=False,
            broadcast=False,
            runtime_dir=tmp_path,
        )
        manager.mongo = MongoClients(grace=1.5, client_options=FAST)
        try:
            old = manager.mongo.client(manager.tenant_db("orders", "T1"))
            stop = threading.Event()
            seen: list[str] = []

            def work() -> None:  # a request that took the old client and keeps using it
                client = old
                while not stop.is_set():
                    seen.append(state(client))

            threads = [threading.Thread(target=work) for _ in range(4)]
            for thread in threads:
                thread.start()
            assert wait_until(lambda: len(seen) >= 4, timeout=10)

            _write(registry, _data(mongo_port, password="second-p@ss"))
            manager.reload()
            db = manager.tenant_db("orders", "T1")
            assert "second-p%40ss" in db.uri()
            new = manager.mongo.client(db)
            assert new is not old
            assert manager.mongo.client(manager.tenant_db("orders", "T2")) is new
            # within the grace period the old client still works for the threads using it
            time.sleep(0.5)
            assert "closed" not in seen and state(old) == "open"
            # then it is closed, and the new one is not
            assert wait_until(lambda: state(old) == "closed", timeout=10)
            stop.set()
            for thread in threads:
                thread.join(10)
            assert state(new) == "open"
            assert manager.mongo.client(db) is new
        finally:
            manager.stop()
        assert state(new) == "closed"  # a control-plane manager's stop() closes them too
    assert "first-p" not in caplog.text and "second-p" not in caplog.text
    assert "replaced" in caplog.text or "changed" in caplog.text


def test_a_database_resolved_before_a_reload_gets_the_current_client(mongo_port: int) -> None:
    data = _data(mongo_port, password="old")
    manager = RegistryManager.from_dict(data, "hello")
    manager.mongo = MongoClients(grace=0, client_options=FAST)
    try:
        kept = manager.core_db("main")  # resolved once, at start-up, and kept
        before = manager.mongo.client(kept)
        data["coreDB"]["main"]["credentials"]["password"] = "new"
        manager.reload()
        after = manager.mongo.client(kept)  # the stale object still gets the new settings
        assert after is not before
        assert manager.mongo.client(manager.core_db("main")) is after  # no flapping
        assert manager.mongo.client(kept) is after
        assert wait_until(lambda: state(before) == "closed", timeout=5)
    finally:
        manager.stop()


def test_a_stopped_manager_makes_no_client(mongo_port: int) -> None:
    manager = RegistryManager.from_dict(_data(mongo_port), "hello")
    manager.stop()
    with pytest.raises(RegistryError, match="closed"):
        manager.mongo.client(manager.core_db("main"))


def test_a_reload_that_changes_nothing_keeps_the_client(manager: Any) -> None:
    db = manager.core_db("main")
    client = manager.mongo.client(db)
    manager.reload()
    assert manager.mongo.client(manager.core_db("main")) is client
    assert state(client) == "open"


def test_a_location_that_leaves_the_registry_is_retired(mongo_port: int) -> None:
    data = _data(mongo_port)
    manager = RegistryManager.from_dict(data, "hello")
    manager.mongo = MongoClients(grace=0, client_options=FAST)
    try:
        client = manager.mongo.client(manager.core_db("other"))
        del data["coreDB"]["other"]
        manager.reload()
        assert len(manager.mongo) == 0
        assert wait_until(lambda: state(client) == "closed", timeout=5)
    finally:
        manager.stop()


def test_stop_closes_every_client_within_its_bound(mongo_port: int) -> None:
    manager = RegistryManager.from_dict(_data(mongo_port), "hello")
    manager.mongo = MongoClients(grace=60, client_options=FAST)
    clients = [
        manager.mongo.client(manager.core_db("main")),
        manager.mongo.client(manager.tenant_db("orders", "T1")),
    ]
    for client in clients:
        assert state(client) == "open"  # used: monitors and pools are running
    retired = manager.mongo.client(manager.core_db("other"))
    manager.mongo.sweep(manager.registry.model_copy(update={"core_dbs": {}}))  # retiring
    start = time.monotonic()
    manager.stop(timeout=3)
    assert time.monotonic() - start < 9
    everything = [*clients, retired]
    assert wait_until(lambda: all(state(c) == "closed" for c in everything), timeout=5)
    with pytest.raises(RegistryError, match="closed"):
        manager.mongo.client(manager.core_db("main"))
    manager.stop()  # idempotent


def test_the_default_cache_of_a_manager_is_closed_by_close(mongo_port: int) -> None:
    manager = RegistryManager.from_dict(_data(mongo_port), "hello")
    client = manager.mongo.client(manager.core_db("main"))
    assert manager.mongo.grace == 30.0
    manager.close()  # the alias of stop
    assert state(client) == "closed"


def test_a_forked_child_never_reuses_the_parents_clients(manager: Any) -> None:
    db = manager.core_db("main")
    parent = manager.mongo.client(db)
    assert state(parent) == "open"
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        code = 1
        try:
            fresh = len(manager.mongo) == 0
            child = manager.mongo.client(db)
            code = 0 if fresh and child is not parent and isinstance(child, MongoClient) else 2
        finally:
            os.write(write, bytes([code]))
            os._exit(0)
    os.close(write)
    try:
        answer = os.read(read, 1)
    finally:
        os.close(read)
        os.waitpid(pid, 0)
    assert answer == b"\x00"
    # the child neither used nor closed the parent's client
    assert manager.mongo.client(db) is parent
    assert state(parent) == "open"


def test_async_clients_are_kept_per_event_loop(manager: Any) -> None:
    db = manager.core_db("main")

    async def use() -> tuple[Any, Any]:
        first = manager.mongo.async_client(db)
        again = manager.mongo.async_client(db)
        assert first is again and isinstance(first, AsyncMongoClient)
        assert manager.mongo.async_database(db).name == "main"
        # (no operation here: pymongo 4.20's async client leaks the socket of a refused
        # connection, which pytest's ResourceWarning check would report later)
        assert await manager.mongo.release_loop() == 1  # this loop ends: its client too
        assert manager.mongo.async_client(db) is not first
        assert await manager.mongo.release_loop() == 1
        return first, manager.mongo.client(db)

    one, sync_one = asyncio.run(use())
    two, sync_two = asyncio.run(use())
    assert one is not two  # a second loop gets its own async client
    assert sync_one is sync_two  # the sync client does not depend on the loop

    async def close_in_loop() -> str:
        client = manager.mongo.async_client(db)
        await manager.mongo.aclose()
        try:
            await client.admin.command("ping")
        except InvalidOperation:
            return "closed"
        except ServerSelectionTimeoutError:
            return "open"
        return "answered"

    assert asyncio.run(close_in_loop()) == "closed"
    assert state(sync_one) == "closed"


def test_an_async_client_made_outside_a_loop_is_closed_by_close(manager: Any) -> None:
    client = manager.mongo.async_client(manager.core_db("main"))
    assert isinstance(client, AsyncMongoClient)
    assert manager.mongo.async_client(manager.core_db("main")) is client
    manager.mongo.close()

    async def ping() -> str:
        try:
            await client.admin.command("ping")
        except InvalidOperation:
            return "closed"
        return "open"  # pragma: no cover

    assert asyncio.run(ping()) == "closed"


def test_bad_cache_options_are_refused() -> None:
    from soajs.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        MongoClients(max_clients=0)
    with pytest.raises(ConfigurationError):
        MongoClients(grace=-1)
