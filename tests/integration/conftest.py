"""Fixtures for integration tests: a real local control plane on loopback."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from soajs import RegistryManager
from soajs.controlplane import ControlPlaneServer
from tests.support import wait_until, write_json


@pytest.fixture
def registry_data(sample_registry: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(sample_registry)
    # the floor: polls every second, so reload tests stay short
    data["serviceConfig"]["awareness"]["autoRelaodRegistry"] = 1000
    return data


@pytest.fixture
def registry_file(tmp_path: Path, registry_data: dict[str, Any]) -> Path:
    path = tmp_path / "registry.json"
    write_json(path, registry_data)
    return path


@pytest.fixture
def control_plane(
    registry_file: Path, soajs_make_control_plane: Callable[..., ControlPlaneServer]
) -> ControlPlaneServer:
    """The soajs pytest plugin's control plane (entry point), over a file tests may edit."""
    return soajs_make_control_plane(registry_file)


@pytest.fixture
def make_manager(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., RegistryManager]]:
    """Build managers with SOAJS_ENV=dev; every one is stopped at teardown."""
    monkeypatch.setenv("SOAJS_ENV", "dev")
    made: list[RegistryManager] = []

    def make(*args: Any, **kwargs: Any) -> RegistryManager:
        kwargs.setdefault("max_backoff", 0.5)
        manager = RegistryManager(*args, **kwargs)
        made.append(manager)
        return manager

    yield make
    for manager in made:
        manager.stop()


@pytest.fixture(autouse=True)
def _own_runtime_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Each test has its own reload-broadcast directory: no cross-talk with other
    test runs on the machine (the default is one directory per user)."""
    monkeypatch.setenv("SOAJS_RUNTIME_DIR", str(tmp_path_factory.mktemp("soajs-run")))


@pytest.fixture(autouse=True)
def _no_poller_left_behind() -> Iterator[None]:
    """After every integration test, no registry poller thread may remain."""
    yield

    def pollers() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name.startswith("soajs-registry-")]

    assert wait_until(lambda: not pollers(), timeout=5), f"threads left behind: {pollers()}"
