"""Fixtures of the interop tests: the real SOAJS gateway and our services (see rig.py).

Without node/npm, or without a way to the npm registry on the first run, every
interop test is skipped with one line saying why.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.interop.rig import Gateway, RigUnavailable, Service, install_gateway


@functools.cache
def _installed() -> Path | str:
    """The installed ``soajs.controller``, or why the rig cannot run here."""
    try:
        return install_gateway()
    except RigUnavailable as exc:
        return str(exc)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip every interop test for the same reason, from this one place.

    (Raised here rather than in a fixture so ``-ra`` reports it on one line:
    a fixture's skip is reported at each test's own location.)
    """
    if item.get_closest_marker("interop") is None:
        return
    installed = _installed()
    if isinstance(installed, str):
        pytest.skip(f"interop tests skipped: {installed}")


@pytest.fixture(scope="session")
def gateway_controller() -> Path:
    """The installed ``soajs.controller`` (installed on first use, then cached)."""
    installed = _installed()
    if isinstance(installed, str):
        pytest.skip(f"interop tests skipped: {installed}")
    return installed


@pytest.fixture(scope="session")
def gateway(
    gateway_controller: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """One gateway for the session (tests that stop a gateway make their own)."""
    gw = Gateway(gateway_controller, tmp_path_factory.mktemp("gateway"))
    try:
        gw.start()
        yield gw
    finally:
        gw.stop()


@pytest.fixture
def make_gateway(gateway_controller: Path, tmp_path: Path) -> Iterator[Callable[..., Gateway]]:
    """Build private gateways (not started); every one is stopped at teardown."""
    made: list[Gateway] = []

    def make(**kwargs: Any) -> Gateway:
        gw = Gateway(gateway_controller, tmp_path / f"gateway{len(made)}", **kwargs)
        made.append(gw)
        return gw

    try:
        yield make
    finally:
        for gw in made:
            gw.stop()


@pytest.fixture
def start_service(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[..., Service]]:
    """Start an example against the session gateway (or ``gateway=``); stopped at teardown."""
    made: list[Service] = []

    def start(kind: str, name: str, *, gateway: Gateway | None = None, **kwargs: Any) -> Service:
        gw = gateway if gateway is not None else request.getfixturevalue("gateway")
        service = Service(kind, name, gw, tmp_path, **kwargs)
        made.append(service)
        return service.start()

    try:
        yield start
    finally:
        for service in reversed(made):
            service.stop()
