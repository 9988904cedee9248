"""Deployment modes against real control planes on loopback (two controller hosts)."""

from __future__ import annotations

import logging
import time

import pytest

from soajs import Config, ConfigurationError, RegistryManager
from tests.deploy.recording_plane import RecordingPlane

CONFIG = Config(name="hello", group="Demo", port=4381, version="1")
Planes = tuple[RecordingPlane, RecordingPlane]


def manager(plane: RecordingPlane, **kwargs: object) -> RegistryManager:
    kwargs.setdefault("config", CONFIG)
    return RegistryManager(
        "hello", "dev", registry_api=plane.address, auto_reload=False, broadcast=False,
        timeout=1, **kwargs,  # type: ignore[arg-type]
    )  # fmt: skip


def test_host_mode_registers_with_every_controller_host(
    planes: Planes, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = planes
    monkeypatch.setenv("SOAJS_SRVIP", "127.0.0.9")
    with manager(first):
        assert first.wait_count(1) and second.wait_count(1)
        time.sleep(0.3)
    assert first.count() == 1 and second.count() == 1  # the API host is a controller: once
    for body in first.registrations + second.registrations:
        assert body["mw"] is False
        assert body["ip"] == "127.0.0.9"
        assert body["portHost"] == 4381 and body["port"] == 4381
        assert body["name"] == "hello" and body["version"] == "1"


def test_manual_mode_registers_first_with_mw_true(
    planes: Planes, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = planes
    monkeypatch.setenv("SOAJS_DEPLOY_MANUAL", "true")
    with manager(first):
        assert first.count() == 1  # before the first load, synchronously
        assert second.wait_count(1)
    assert first.registrations[0]["mw"] is True and second.registrations[0]["mw"] is True
    assert first.registrations[0]["ip"] == "127.0.0.1"  # a laptop: loopback unless SOAJS_SRVIP


def test_srvport_is_the_advertised_data_port(
    planes: Planes, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _ = planes
    monkeypatch.setenv("SOAJS_SRVIP", "127.0.0.9")
    monkeypatch.setenv("SOAJS_SRVPORT", "30123")
    with manager(first):
        assert first.wait_count(1)
    assert first.registrations[0]["portHost"] == 30123
    from soajs.registry.deployment import maintenance_port
    from soajs.settings import Settings

    settings = Settings.from_env({"SOAJS_SRVPORT": "30123"})
    assert maintenance_port(settings, CONFIG, 1000) == 31123
    assert maintenance_port(Settings.from_env({}), CONFIG, 1000) == 5381


def test_ha_mode_registers_nowhere_and_still_loads(
    planes: Planes, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = planes
    first.refuse = second.refuse = True  # as an HA gateway answers /register
    monkeypatch.setenv("SOAJS_DEPLOY_HA", "kubernetes")
    monkeypatch.setenv("SOAJS_DEPLOY_MANUAL", "true")  # the combination that failed at start
    with manager(first) as m:
        assert m.is_ready
        time.sleep(0.5)
    assert first.count() == 0 and second.count() == 0
    assert "/register" not in first.paths + second.paths


def test_auto_register_off_registers_nowhere(
    planes: Planes, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = planes
    monkeypatch.setenv("SOAJS_SRV_AUTOREGISTERHOST", "false")
    with manager(first) as m:
        assert m.is_ready
        assert m._registration.plan.ip == "127.0.0.1"
        time.sleep(0.5)
    assert first.count() == 0 and second.count() == 0


def test_a_bad_boolean_fails_the_manager_naming_the_variable(
    planes: Planes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOAJS_DEPLOY_MANUAL", "yes")
    with pytest.raises(ConfigurationError, match="SOAJS_DEPLOY_MANUAL"):
        manager(planes[0])


def test_a_hanging_controller_blocks_neither_the_others_nor_start_nor_stop(
    planes: Planes, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = planes
    second.hang = True
    monkeypatch.setenv("SOAJS_SRVIP", "127.0.0.9")
    caplog.set_level(logging.INFO, logger="soajs.registry")
    started = time.monotonic()
    m = manager(first)
    try:
        assert time.monotonic() - started < 1.0  # the fan-out runs in the background
        assert first.wait_count(1)
        fanout = m._registration.fanout
        assert fanout.wait(5)  # the hanging one ends by its 1 s deadline
        assert fanout.last_round == {f"127.0.0.1:{first.port}": True,
                                     f"127.0.0.2:{first.port}": False}  # fmt: skip
        fanout.send(m._registration.targets(m.registry), m._registrar.body)
        assert fanout.wait(5)
    finally:
        began = time.monotonic()
        m.stop(timeout=1)
        assert time.monotonic() - began < 3
    warnings = [
        r for r in caplog.records if r.levelno == logging.WARNING and "127.0.0.2" in r.message
    ]
    assert len(warnings) == 1, [r.message for r in warnings]  # one per outage, not per round


def test_start_log_line_says_mode_ip_ports_and_controllers(
    planes: Planes, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    first, _ = planes
    monkeypatch.setenv("SOAJS_SRVIP", "127.0.0.9")
    caplog.set_level(logging.INFO, logger="soajs.registry")
    with manager(first):
        pass
    lines = [r.getMessage() for r in caplog.records if "deployment of" in r.getMessage()]
    assert len(lines) == 1, lines
    line = lines[0]
    assert "host auto-register" in line and "127.0.0.9" in line and "5381" in line
    assert f"127.0.0.2:{first.port}" in line and "4381" in line


def test_the_config_api_list_wins_over_the_routes(
    planes: Planes, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _ = planes
    monkeypatch.setenv("SOAJS_SRVIP", "127.0.0.9")
    mine = [{"l": "Mine", "v": "/mine", "m": "get"}]
    config = Config(name="hello", group="Demo", port=4381, apiList=mine)
    from soajs import apilist

    with manager(first, config=config) as m:
        apilist.announce(m, object())  # would not be asked: the Config has one
        assert first.wait_count(1)
    assert first.registrations[0]["apiList"] == mine


def test_manual_plus_ha_against_the_recorded_ha_gateway_answer_starts(
    planes: Planes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's failure: SOAJS_DEPLOY_HA + SOAJS_DEPLOY_MANUAL failed at start because the
    HA gateway refuses /register. With the recorded refusal, the service starts now."""
    import json
    from pathlib import Path

    from soajs.errors import ControlPlaneError

    recorded = json.loads((Path(__file__).parents[1] / "interop" / "captures" /
                           "ha_register_answer.json").read_text())  # fmt: skip
    first, _ = planes
    first.refuse_body = recorded["body"]
    first.refuse = True
    monkeypatch.setenv("SOAJS_DEPLOY_MANUAL", "1")
    with pytest.raises(ControlPlaneError):  # without HA: refused, the start fails as before
        manager(first)
    monkeypatch.setenv("SOAJS_DEPLOY_HA", "kubernetes")
    with manager(first) as m:
        assert m.is_ready
    assert first.count() == 1  # the one refused above; none in HA


def test_in_host_mode_a_refusing_controller_fails_neither_start_nor_reloads(
    planes: Planes, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = planes
    first.refuse = True
    monkeypatch.setenv("SOAJS_SRVIP", "127.0.0.9")
    caplog.set_level(logging.WARNING, logger="soajs.registry")
    with manager(first) as m:
        assert m.is_ready
        assert first.wait_count(1) and second.wait_count(1)
        assert m._registration.fanout.wait(5)
        m.reload()  # the registry still loads
        assert m.is_ready
    refused = [r for r in caplog.records if f"127.0.0.1:{first.port}" in r.getMessage()]
    assert len(refused) == 1, [r.getMessage() for r in refused]


def test_auto_register_off_wins_over_manual_deployment(
    planes: Planes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As in Node (servers/service.js: auto-register false skips ``autoRegisterService``
    whatever ``SOAJS_DEPLOY_MANUAL`` says) and as the configuration page promises:
    ``SOAJS_SRV_AUTOREGISTERHOST=false`` advertises 127.0.0.1 and registers nowhere."""
    first, second = planes
    monkeypatch.setenv("SOAJS_DEPLOY_MANUAL", "true")
    monkeypatch.setenv("SOAJS_SRV_AUTOREGISTERHOST", "false")
    monkeypatch.setenv("SOAJS_SRVIP", "127.0.0.9")
    with manager(first) as m:
        assert m.is_ready
        assert m._registration.plan.ip == "127.0.0.1"
        time.sleep(1.0)  # past the fan-out's first-round delay
    assert first.count() == 0 and second.count() == 0
    assert "/register" not in first.paths + second.paths


def test_fifty_controller_hosts_each_get_one_registration_despite_duplicates_and_bad_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Node registers with every host of the latest controller version: 50 real controllers
    (127.0.0.1-50, one port) each get the body once; duplicates and junk entries are skipped."""
    from tests.deploy.recording_plane import registry_with_controllers

    first = RecordingPlane().start()
    planes = [first] + [
        RecordingPlane(host=f"127.0.0.{i}", port=first.port).start() for i in range(2, 51)
    ]
    try:
        registry = registry_with_controllers(*[(p.host, p.port) for p in planes])
        registry["services"]["controller"]["hosts"]["1"] += [
            "127.0.0.3", " 127.0.0.4 ", "", "bad host", "http://x/", None, 42, "a" * 300,
        ]  # fmt: skip
        for plane in planes:
            plane.registry = registry
        monkeypatch.setenv("SOAJS_SRVIP", "127.0.0.9")
        with manager(first) as m:
            assert all(p.wait_count(1) for p in planes), [p.count() for p in planes]
            assert m._registration.fanout.wait(5)
        assert [p.count() for p in planes] == [1] * 50
    finally:
        for plane in planes:
            plane.stop()


def test_two_managers_of_one_instance_in_one_process_register_once(
    planes: Planes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """POSIX record locks belong to the process: both managers "held" the host's lock and
    both registered. One registers; when it stops, the other takes over and registers."""
    first, second = planes
    monkeypatch.setenv("SOAJS_SRVIP", "127.0.0.9")
    one = manager(first)
    other = manager(first)
    try:
        assert first.wait_count(1) and second.wait_count(1)
        assert one._registration.fanout.wait(5) and other._registration.fanout.wait(5)
        time.sleep(1.0)
        assert (first.count(), second.count()) == (1, 1)
        one.stop(timeout=1)
        other.reload()  # its next poll: the stopped one's lock is its own now
        assert first.wait_count(2) and second.wait_count(2)
        assert other._registration.fanout.wait(5)
        assert (first.count(), second.count()) == (2, 2)
    finally:
        one.stop(timeout=1)
        other.stop(timeout=1)
