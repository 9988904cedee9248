"""The deployment plan, controller targets from hostile registries, host-IP detection."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from soajs import Config
from soajs.models.registry import Registry
from soajs.registry import hostip
from soajs.registry.deployment import (
    MAX_CONTROLLER_HOSTS,
    ControllerTarget,
    controller_targets,
    maintenance_port,
    plan,
)
from soajs.settings import Settings
from tests.conftest import SAMPLE_REGISTRY

CONFIG = Config(name="hello", group="Demo", port=4381)


def settings(**env: str) -> Settings:
    return Settings.from_env(env)


def test_ha_wins_and_detects_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*a: Any) -> Any:
        raise AssertionError("no detection in HA")

    monkeypatch.setattr("soajs.registry.deployment.detect_host_ip", boom)
    p = plan(settings(SOAJS_DEPLOY_HA="kubernetes", SOAJS_DEPLOY_MANUAL="1",
                      SOAJS_SRVPORT="9000"), CONFIG)  # fmt: skip
    assert (p.mode, p.register, p.ip, p.data_port) == ("ha", False, None, 4381)


def test_manual_is_loopback_unless_srvip() -> None:
    p = plan(settings(SOAJS_DEPLOY_MANUAL="true"), CONFIG)
    assert (p.mode, p.ip, p.mw, p.register) == ("manual", "127.0.0.1", True, True)
    p = plan(settings(SOAJS_DEPLOY_MANUAL="true", SOAJS_SRVIP="10.0.0.5"), CONFIG)
    assert p.ip == "10.0.0.5"


def test_host_mode_detects_and_auto_register_off_is_loopback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("soajs.registry.deployment.detect_host_ip",
                        lambda: ("10.9.8.7", "interface eth0"))  # fmt: skip
    p = plan(settings(), CONFIG)
    assert (p.mode, p.ip, p.mw, p.register) == ("host", "10.9.8.7", False, True)
    p = plan(settings(SOAJS_SRV_AUTOREGISTERHOST="false"), CONFIG)
    assert (p.mode, p.ip, p.register) == ("local", "127.0.0.1", False)
    assert plan(settings(), None).register is False  # no Config, nothing to register


def test_no_interface_falls_back_to_loopback_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("soajs.registry.deployment.detect_host_ip",
                        lambda: (None, "no external IPv4 interface"))  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="soajs.registry"):
        p = plan(settings(), CONFIG)
    assert p.ip == "127.0.0.1"
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "SOAJS_SRVIP" in caplog.records[0].getMessage()


@pytest.mark.parametrize(
    ("found", "expected"),
    [
        ([("lo", "127.0.0.1"), ("docker0", "172.17.0.1"), ("eth0", "10.0.0.2")], "10.0.0.2"),
        ([("en1", "192.168.1.9"), ("en0", "192.168.1.8")], "192.168.1.8"),
        ([("lo", "127.0.0.1"), ("wlp2s0", "192.168.1.4")], "192.168.1.4"),
        ([("lo", "127.0.0.1"), ("eth0", "169.254.1.1")], None),  # link-local only
        ([], None),
    ],
)
def test_interface_order(found: list[tuple[str, str]], expected: str | None) -> None:
    assert hostip.detect_host_ip(lambda: found)[0] == expected


def test_the_real_interfaces_are_read() -> None:
    addresses = hostip.interface_addresses()
    assert ("lo", "127.0.0.1") in addresses or not addresses  # Linux: lo is there
    ip, source = hostip.detect_host_ip()
    assert ip is None or (ip != "127.0.0.1" and source)


def registry(controller: Any, inc: Any = 1000) -> Registry:
    data = json.loads(SAMPLE_REGISTRY.read_text())
    data["services"]["controller"] = controller
    data["serviceConfig"]["ports"]["maintenanceInc"] = inc
    return Registry.model_validate(data)


def test_controller_targets_are_the_latest_hosts_at_port_plus_inc() -> None:
    reg = registry({"group": "G", "port": 4000,
                    "hosts": {"latest": "2", "1": ["10.0.0.1"], "2": ["10.0.0.2", "10.0.0.3",
                                                                       "10.0.0.2"]}})  # fmt: skip
    assert controller_targets(reg) == [ControllerTarget("10.0.0.2", 5000),
                                       ControllerTarget("10.0.0.3", 5000)]  # fmt: skip


@pytest.mark.parametrize(
    "controller",
    [
        {"group": "G", "port": 4000},
        {"group": "G", "port": 4000, "hosts": {"latest": "9", "1": ["10.0.0.1"]}},
        {"group": "G", "port": 4000, "hosts": {"latest": "1", "1": "10.0.0.1"}},
        {"group": "G", "port": 4000, "hosts": {"latest": "1", "1": [1, None, {"a": 1}, "a b",
                                                                    "x/y", "x" * 300]}},
        {"group": "G", "port": 65000, "hosts": {"latest": "1", "1": ["10.0.0.1"]}},
    ],
)  # fmt: skip
def test_hostile_controller_entries_give_no_target(controller: dict[str, Any]) -> None:
    assert controller_targets(registry(controller)) == []


def test_controller_targets_are_capped() -> None:
    hosts = [f"10.0.{i // 250}.{i % 250}" for i in range(5000)]
    reg = registry({"group": "G", "port": 4000, "hosts": {"latest": "1", "1": hosts}})
    assert len(controller_targets(reg)) == MAX_CONTROLLER_HOSTS


def test_maintenance_port_follows_srvport_and_the_config_types() -> None:
    s = settings(SOAJS_SRVPORT="7000")
    assert maintenance_port(s, CONFIG, 1000) == 8000
    inherit = Config(
        name="hello", group="Demo", port=4381, maintenance={"port": {"type": "inherit"}}
    )
    assert maintenance_port(s, inherit, 1000) == 7000
    custom = Config(name="hello", group="Demo", port=4381,
                    maintenance={"port": {"type": "custom", "value": 6001}})  # fmt: skip
    assert maintenance_port(s, custom, 1000) == 6001
    assert maintenance_port(settings(SOAJS_SRVPORT="7000", SOAJS_DEPLOY_HA="kubernetes"),
                            CONFIG, 1000) == 5381  # fmt: skip


def test_the_latest_controller_version_is_the_gateways_else_the_highest_number() -> None:
    by_version = {"1": ["10.0.0.1"], "1.10": ["10.0.0.10"], "1.9": ["10.0.0.9"]}
    with_latest = registry({"group": "G", "port": 4000, "hosts": {"latest": "1.9", **by_version}})
    assert controller_targets(with_latest) == [ControllerTarget("10.0.0.9", 5000)]  # as Node
    without = registry({"group": "G", "port": 4000, "hosts": by_version})
    assert controller_targets(without) == [ControllerTarget("10.0.0.10", 5000)]  # 1.10 > 1.9
    odd = registry({"group": "G", "port": 4000, "hosts": {"x": ["10.0.0.7"], "1.a": ["10.0.0.8"]}})
    assert controller_targets(odd) == []
