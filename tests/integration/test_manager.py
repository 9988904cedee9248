"""RegistryManager against the real local control plane on loopback."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from soajs import (
    Config,
    ConfigurationError,
    ControlPlaneError,
    DatabaseNotFoundError,
    RegistryManager,
    RegistryNotLoadedError,
    ServiceNotFoundError,
)
from soajs.controlplane import ControlPlaneServer
from soajs.models import Database, Registry
from tests.support import ControlPlaneProcess, free_port, wait_until, write_json

SECRETS = (
    "demo-db-password-do-not-log",
    "tenant-db-password-do-not-log",
    "demo registry key password",
    "demo cookie secret",
    "demo session secret",
)
HELLO = Config(name="hello", group="Demo", port=4381, version="1", extKeyRequired=True)

Make = Callable[..., RegistryManager]


def test_loads_the_registry_filtered_for_the_service(
    control_plane: ControlPlaneServer, make_manager: Make
) -> None:
    manager = make_manager("hello", registry_api=control_plane.address, auto_reload=False)
    assert manager.is_ready
    assert isinstance(manager.registry, Registry)
    assert isinstance(manager.last_loaded_at, datetime)
    main = manager.get_database("main")
    assert isinstance(main, Database)
    assert main.servers is not None and main.servers[0].port == 27017
    assert manager.get_database("orders").name == "#TENANT_NAME#_orders"
    assert set(manager.get_all_databases()) == {"provision", "main", "session", "orders"}
    assert manager.get_service("hello").port == 4381
    assert manager.get_custom("greeting").value["text"] == "hello from the registry"
    assert manager.get_resource("local_cluster").category == "mongo"
    assert manager.get_resource("local_cluster", type="cluster").name == "local_cluster"
    assert manager.awareness is not None and manager.awareness.port == 4000
    assert manager.registry.service_config.awareness.auto_reload_registry == 1000


@pytest.mark.parametrize(
    ("call", "error", "text"),
    [
        pytest.param(lambda m: m.get_database("nope"), DatabaseNotFoundError, "database", id="db"),
        pytest.param(lambda m: m.get_service("orders"), ServiceNotFoundError, "service", id="svc"),
        pytest.param(lambda m: m.get_custom("nope"), LookupError, "custom entry", id="custom"),
        pytest.param(
            lambda m: m.get_resource("local_cluster", type="server"),
            LookupError,
            "resource",
            id="resource-wrong-type",
        ),
    ],
)
def test_missing_entries_raise_lookup_errors_naming_them(
    control_plane: ControlPlaneServer, make_manager: Make, call: Any, error: type, text: str
) -> None:
    manager = make_manager("hello", registry_api=control_plane.address, auto_reload=False)
    with pytest.raises(error, match=text) as info:
        call(manager)
    assert isinstance(info.value, LookupError)


def test_fails_fast_with_a_clear_error_when_unreachable(make_manager: Make) -> None:
    port = free_port()
    with pytest.raises(ControlPlaneError, match=f"cannot reach http://127.0.0.1:{port}") as info:
        make_manager("hello", registry_api=f"127.0.0.1:{port}")
    assert info.value.route in ("/getRegistry", "/register")


def test_missing_settings_are_configuration_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="SOAJS_ENV is required"):
        RegistryManager("hello", registry_api="127.0.0.1:1")
    monkeypatch.setenv("SOAJS_ENV", "dev")
    with pytest.raises(ConfigurationError, match="SOAJS_REGISTRY_API is required"):
        RegistryManager("hello")
    monkeypatch.setenv("SOAJS_REGISTRY_API", "localhost")
    expected = "SOAJS_REGISTRY_API must be host:port, got 'localhost'"
    with pytest.raises(ConfigurationError, match=expected):
        RegistryManager("hello")
    monkeypatch.setenv("SOAJS_REGISTRY_API", "127.0.0.1:1")
    monkeypatch.setenv("SOAJS_DEPLOY_MANUAL", "true")
    with pytest.raises(ConfigurationError, match="no Config was given"):
        RegistryManager("hello")
    with pytest.raises(ConfigurationError, match=r"config\.name must be the service name"):
        RegistryManager("other", config=HELLO)


def test_degraded_start_becomes_ready_when_the_control_plane_appears(
    registry_file: Path, make_manager: Make
) -> None:
    port = free_port()
    manager = make_manager("hello", registry_api=f"127.0.0.1:{port}", start_degraded=True)
    assert not manager.is_ready
    with pytest.raises(RegistryNotLoadedError, match="not loaded yet"):
        manager.get_database("main")
    with pytest.raises(RegistryNotLoadedError):
        _ = manager.registry
    with ControlPlaneServer(registry_file, port=port):
        assert wait_until(lambda: manager.is_ready, timeout=10)
        assert manager.get_database("main").name == "main"


def test_auto_reload_picks_up_a_changed_registry(
    control_plane: ControlPlaneServer,
    registry_file: Path,
    registry_data: dict[str, Any],
    make_manager: Make,
) -> None:
    manager = make_manager("hello", registry_api=control_plane.address)
    before = manager.registry
    registry_data["custom"]["greeting"]["value"]["text"] = "changed by the operator"
    registry_data["coreDB"]["reports"] = dict(registry_data["coreDB"]["main"], name="reports")
    write_json(registry_file, registry_data)
    assert wait_until(lambda: manager.registry is not before, timeout=5)
    assert manager.get_custom("greeting").value["text"] == "changed by the operator"
    assert manager.get_database("reports").name == "reports"
    # the old snapshot is untouched: readers holding it never see a change
    assert before.custom["greeting"].value["text"] == "hello from the registry"


def test_reload_on_demand(
    control_plane: ControlPlaneServer,
    registry_file: Path,
    registry_data: dict[str, Any],
    make_manager: Make,
) -> None:
    manager = make_manager("hello", registry_api=control_plane.address, auto_reload=False)
    registry_data["custom"]["greeting"]["value"]["text"] = "now"
    write_json(registry_file, registry_data)
    assert manager.reload().custom["greeting"].value["text"] == "now"
    assert manager.get_custom("greeting").value["text"] == "now"


def test_manual_deployment_registers_at_start(
    control_plane: ControlPlaneServer, make_manager: Make
) -> None:
    config = Config(name="fresh", group="Demo", port=4390, version="2", extKeyRequired=True)
    manager = make_manager(
        "fresh",
        registry_api=control_plane.address,
        deploy_manual=True,
        config=config,
        srv_ip="127.0.0.7",
        auto_reload=False,
    )
    registered = control_plane.store.registered()["fresh"]
    assert registered["hosts"] == {"2": ["127.0.0.7"], "latest": "2"}
    assert registered["versions"]["2"]["extKeyRequired"] is True
    # the first snapshot already lists the service
    assert manager.get_service("fresh").port == 4390


def test_manual_deployment_from_the_environment(
    control_plane: ControlPlaneServer, make_manager: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOAJS_DEPLOY_MANUAL", "1")
    monkeypatch.setenv("SOAJS_REGISTRY_API", control_plane.address)
    make_manager("hello", config=HELLO, auto_reload=False)
    assert "hello" in control_plane.store.registered()


def test_outage_keeps_the_last_good_registry_then_recovers_and_reregisters(
    registry_file: Path, make_manager: Make, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="soajs")
    plane = ControlPlaneProcess(registry_file).start()
    try:
        manager = make_manager(
            "hello", registry_api=plane.address, deploy_manual=True, config=HELLO, timeout=1
        )
        good = manager.registry
        plane.kill()  # mid-run, without a goodbye
        # several polls fail (1 s period, backoff capped at 0.5 s) ...
        assert wait_until(lambda: manager.last_error is not None, timeout=5)
        failures_seen = _count(caplog, "failed again")
        assert wait_until(lambda: _count(caplog, "failed again") >= failures_seen + 2, timeout=10)
        # ... readers keep the last good registry the whole time ...
        assert manager.registry is good
        assert manager.get_database("main").name == "main"
        # ... and the outage is logged once at WARNING, not once per try
        warnings = [
            r for r in caplog.records if r.levelno == logging.WARNING and "poll" in r.message
        ]
        assert len(warnings) == 1, [r.message for r in warnings]

        # the control plane restarts with an empty memory of registrations
        plane.start()
        assert wait_until(lambda: manager.registry is not good and manager.last_error is None, 10)
        assert manager.get_service("hello").port == 4381  # registered again
        # the poller logs the recovery just after it swaps the registry in: wait for it
        assert wait_until(lambda: _count(caplog, "reachable again") >= 1, timeout=5)
        assert _count(caplog, "reachable again") == 1
    finally:
        plane.kill()


def test_reregisters_when_the_control_plane_forgets_the_service(
    registry_file: Path, make_manager: Make, caplog: pytest.LogCaptureFixture
) -> None:
    plane = ControlPlaneProcess(registry_file).start()
    port = plane.port
    try:
        config = Config(name="fresh", group="Demo", port=4390, extKeyRequired=True)
        manager = make_manager(
            "fresh", registry_api=plane.address, deploy_manual=True, config=config
        )
        assert manager.get_service("fresh").port == 4390
        # a restart between two polls: no outage seen, but the registry is empty of us
        plane.kill()
        plane = ControlPlaneProcess(registry_file, port=port).start()
        before = manager.registry
        assert wait_until(lambda: manager.registry is not before, timeout=10)
        assert manager.get_service("fresh").port == 4390
    finally:
        plane.kill()


def test_no_secret_reaches_the_logs(
    control_plane: ControlPlaneServer,
    registry_file: Path,
    registry_data: dict[str, Any],
    make_manager: Make,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    manager = make_manager(
        "hello", registry_api=control_plane.address, deploy_manual=True, config=HELLO
    )
    main = manager.get_database("main")
    logging.getLogger("soajs.test").info("loaded %s / %r", manager.registry, main)
    manager.reload()
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "main" in text
    for secret in SECRETS:
        assert secret not in text


def test_stop_is_idempotent_wakes_the_poller_and_leaves_no_thread(
    control_plane: ControlPlaneServer, registry_file: Path, registry_data: dict[str, Any]
) -> None:
    registry_data["serviceConfig"]["awareness"]["autoRelaodRegistry"] = 3_600_000
    write_json(registry_file, registry_data)
    manager = RegistryManager("hello", "dev", registry_api=control_plane.address, stop_timeout=5)
    assert manager.is_running
    thread = manager._thread
    assert thread is not None
    manager.stop()
    # the poller was asleep for an hour; stop() woke it and joined it
    assert not thread.is_alive()
    assert not manager.is_running
    manager.stop()
    assert manager.is_stopped
    # the last registry is still readable after stop
    assert manager.get_database("main").name == "main"
    with pytest.raises(Exception, match="was stopped"):
        manager.reload()


def test_context_manager_starts_and_stops(control_plane: ControlPlaneServer) -> None:
    manager = RegistryManager("hello", "dev", registry_api=control_plane.address, autostart=False)
    assert not manager.is_ready
    with manager as same:
        assert same is manager
        assert manager.is_ready and manager.is_running
    assert manager.is_stopped and not manager.is_running


def test_a_forgotten_manager_does_not_block_interpreter_exit(
    control_plane: ControlPlaneServer,
) -> None:
    script = textwrap.dedent(
        f"""
        from soajs import RegistryManager
        manager = RegistryManager("hello", "dev", registry_api="{control_plane.address}")
        assert manager.is_running
        print("loaded", manager.get_database("main").name)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "loaded main"


def test_many_readers_during_many_reloads_never_see_a_torn_registry(
    control_plane: ControlPlaneServer,
    registry_file: Path,
    registry_data: dict[str, Any],
    make_manager: Make,
) -> None:
    def write_generation(gen: int) -> None:
        registry_data["custom"]["greeting"]["value"]["version"] = str(gen)
        registry_data["coreDB"]["main"]["prefix"] = str(gen)
        registry_data["tenantMetaDB"]["orders"]["prefix"] = str(gen)
        write_json(registry_file, registry_data)

    write_generation(0)
    manager = make_manager("hello", registry_api=control_plane.address, auto_reload=False)
    stop = threading.Event()
    problems: list[str] = []
    reads = [0] * 8

    def generation(reg: Registry) -> set[Any]:
        # every reload writes the same generation number in three places
        return {
            reg.custom["greeting"].value["version"],
            reg.core_dbs["main"].prefix,
            reg.tenant_meta_dbs["orders"].prefix,
        }

    def reader(slot: int) -> None:
        while not stop.is_set():
            try:
                snap = manager.registry
                if len(generation(snap)) != 1:
                    problems.append(f"torn snapshot: {generation(snap)}")
                if manager.get_database("main").name != "main":
                    problems.append("wrong database")
                manager.get_service("hello")
                reads[slot] += 1
                time.sleep(0)  # let the reloading thread run: contention, not starvation
            except Exception as exc:  # a missing read is a failure too
                problems.append(repr(exc))

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(len(reads))]
    for t in threads:
        t.start()
    try:
        for gen in range(1, 41):
            write_generation(gen)
            assert generation(manager.reload()) == {str(gen)}
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert problems == []
    assert all(count > 0 for count in reads)


def _count(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(text in r.getMessage() for r in caplog.records)


def test_loads_the_real_gateway_capture(tmp_path: Path, make_manager: Make) -> None:
    """The registry gateway 4.3.4 really sent, served back, loads into the models."""
    from tests.conftest import load_fixture

    path = tmp_path / "captured.json"
    write_json(path, load_fixture("getRegistry_dev_hello.json")["body"])
    with ControlPlaneServer(path) as plane:
        manager = make_manager("hello", registry_api=plane.address, auto_reload=False)
        assert manager.get_database("hello_core").registry_location is not None
        assert manager.get_database("hello_tenant").name == "#TENANT_NAME#_hello_tenant"
        assert manager.get_database("session").servers is None
        assert manager.get_custom("helloCustom").value["greeting"] == "hi from registry custom"
        # the gateway's own spelling of the reload period
        assert manager.registry.auto_reload_ms == 3_600_000
        assert manager.registry.maintenance_inc == 1000
        assert manager.get_service("hello").group == "Holdout"
        key = manager.registry.service_config.key
        assert key is not None
        assert key.password is not None
        assert "holdout" not in repr(key)
        assert key.password.get_secret_value() == "soajs-python holdout rig key"


def test_reloads_soon_while_the_gateway_address_is_unknown(
    tmp_path: Path, registry_data: dict[str, Any], make_manager: Make
) -> None:
    """Gateway 4.3.4 answers ``awareness.host: null`` until its first self-check passes.

    A service that loaded then must not wait a whole reload period (an hour
    here) to learn where the gateway is: it asks again after two
    health-check intervals.
    """
    registry_data["serviceConfig"]["awareness"]["autoRelaodRegistry"] = 3_600_000
    registry_data["serviceConfig"]["awareness"]["healthCheckInterval"] = 500
    registry_data["awareness"] = {"host": None, "port": 4000}
    path = tmp_path / "registry.json"
    write_json(path, registry_data)
    with ControlPlaneServer(path) as plane:
        manager = make_manager("hello", registry_api=plane.address)
        assert manager.awareness is not None
        assert manager.awareness.host is None
        assert manager.next_interval() <= 1.0 * (1 + manager.jitter)
        registry_data["awareness"] = {"host": "127.0.0.1", "port": 4000}
        write_json(path, registry_data)
        assert wait_until(
            lambda: manager.awareness is not None and manager.awareness.host == "127.0.0.1",
            timeout=10,
        )
        # known now: back to the control plane's own period
        assert manager.next_interval() >= 3600 * (1 - manager.jitter)
