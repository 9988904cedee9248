"""The registry plane under faults, on real servers on loopback (issue 11, findings 1, 3, 6).

Each control plane here is a real HTTP server (:mod:`tests.integration.faulty_plane`,
or the project's own local control plane) and counts, server-side, the calls
that reached it. Time bounds are generous (a multiple of the configured
deadline), never micro-timings.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from soajs import (
    Config,
    ControlPlaneError,
    RegistryError,
    RegistryManager,
    RegistryTimeoutError,
)
from soajs.controlplane import ControlPlaneServer
from soajs.registry.client import RegistryClient
from tests.integration.faulty_plane import FaultyPlane, elapsed
from tests.support import wait_until

Make = Callable[..., RegistryManager]
MiB = 1024 * 1024


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name.startswith("soajs")
    ]


# -- the client: a total deadline and a size cap ---------------------------------------


def test_a_trickling_answer_is_cut_at_the_total_deadline() -> None:
    """Finding 1: 1 byte every 0.2 s never trips a 1 s per-read timeout; the total deadline does."""
    with FaultyPlane("trickle") as plane:
        plane.trickle_interval = 0.2
        with RegistryClient(f"http://{plane.address}", timeout=1.0) as client:
            start = time.monotonic()
            with pytest.raises(RegistryTimeoutError, match=r"no answer from .* within 1s"):
                client.get_registry("dev", "hello")
            assert elapsed(start) < 3.0
        assert plane.requests == 1


@pytest.mark.parametrize(
    "mode",
    [
        pytest.param("headers", id="hangs-after-headers"),
        pytest.param("silent", id="accepts-never-answers"),
    ],
)
def test_a_hanging_control_plane_is_cut_at_the_deadline(mode: str) -> None:
    with FaultyPlane(mode) as plane, RegistryClient(f"http://{plane.address}", timeout=1) as client:
        start = time.monotonic()
        with pytest.raises(ControlPlaneError, match="within 1s"):
            client.get_registry("dev", "hello")
        assert elapsed(start) < 3.0


@pytest.mark.parametrize(
    "announce",
    [
        pytest.param(True, id="content-length-announced"),
        pytest.param(False, id="until-close"),
    ],
)
def test_a_huge_answer_is_refused_at_the_cap_without_buffering_it(announce: bool) -> None:
    """Finding 6: a 100 MB answer; at most the cap is ever held (traced allocations)."""
    with FaultyPlane("huge") as plane:
        plane.announce = announce
        with RegistryClient(f"http://{plane.address}", timeout=10, max_bytes=MiB) as client:
            tracemalloc.start()
            try:
                with pytest.raises(ControlPlaneError, match=r"larger than the 1 MiB cap") as info:
                    client.get_registry("dev", "hello")
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
    assert peak < 4 * MiB, f"peak {peak / MiB:.1f} MiB for a 1 MiB cap"
    assert "SOAJS_REGISTRY_MAX_BYTES" in str(info.value)
    if announce:
        assert "104857" in str(info.value)  # the announced size, refused before reading


def test_the_default_cap_is_16_mib_and_a_100_mb_answer_costs_no_more() -> None:
    with FaultyPlane("huge") as plane:
        plane.announce = False
        with RegistryClient(f"http://{plane.address}", timeout=20) as client:
            assert client.max_bytes == 16 * MiB
            tracemalloc.start()
            try:
                with pytest.raises(ControlPlaneError, match="larger than the 16 MiB cap"):
                    client.get_registry("dev", "hello")
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
    assert peak < 40 * MiB, f"peak {peak / MiB:.1f} MiB"


# -- the manager: no lock across network I/O, bounded stop and reload -----------------


def test_stop_returns_within_its_bound_while_a_reload_trickles(make_manager: Make) -> None:
    """Finding 1: stop(timeout=1) used to wait for the lock held across the call (> 20 s)."""
    with FaultyPlane() as plane:
        manager = make_manager("hello", registry_api=plane.address, timeout=30)
        plane.mode = "trickle"
        ticket = manager.request_reload()
        assert wait_until(lambda: plane.requests == 2, timeout=5)
        assert manager.get_database("main").name == "main"  # reads never wait
        start = time.monotonic()
        manager.stop(timeout=1)
        took = elapsed(start)
        assert took < 3.0, f"stop(timeout=1) took {took:.1f}s"
        # whoever waited for that reload is answered at once
        outcome = ticket.future.result(timeout=1)
        assert not outcome.ok and "stopped" in str(outcome.error)
        # and the worker, its exchange cancelled, ends soon after (not after 30 s)
        assert wait_until(lambda: not manager.is_running, timeout=3)


def test_reload_honours_its_timeout_while_the_control_plane_trickles(make_manager: Make) -> None:
    """Finding 1: reload(timeout=2) was still blocked after 12 s."""
    with FaultyPlane() as plane:
        manager = make_manager("hello", registry_api=plane.address, timeout=30)
        before = manager.registry
        plane.mode = "trickle"
        start = time.monotonic()
        with pytest.raises(TimeoutError, match=r"did not finish within 1s") as info:
            manager.reload(timeout=1)
        assert elapsed(start) < 3.0
        assert isinstance(info.value, RegistryTimeoutError)
        assert isinstance(info.value, ControlPlaneError)
        # a second reload joins the one in flight: still one call
        with pytest.raises(RegistryError, match="did not finish"):
            manager.reload(timeout=0.5)
        assert plane.paths["/getRegistry"] == 2
        assert manager.registry is before  # the last good registry stays


def test_a_reload_storm_costs_one_call_in_flight_and_one_per_second(make_manager: Make) -> None:
    """Finding 3: 2000 reload requests from 8 threads; calls counted by the control plane."""
    with FaultyPlane() as plane:
        plane.delay = 0.2  # each call takes a while, so requests pile up on it
        manager = make_manager("hello", registry_api=plane.address, auto_reload=False)
        assert plane.paths["/getRegistry"] == 1
        tickets: list[Any] = []
        lock = threading.Lock()

        def storm(n: int) -> None:  # 250 requests over about 2 s, without waiting
            for _ in range(n):
                ticket = manager.request_reload()
                with lock:
                    tickets.append(ticket)
                time.sleep(0.008)

        start = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(storm, [250] * 8))
        outcomes = [t.future.result(timeout=10) for t in tickets]
        took = elapsed(start)
    calls = plane.paths["/getRegistry"] - 1
    assert plane.max_active == 1  # never two calls in flight
    assert len(outcomes) == 2000 and all(o.ok for o in outcomes)
    # answered by the call in flight, or at once with the last outcome (rate limit)
    assert {t.state for t in tickets} <= {"started", "joined", "recent", "scheduled"}
    assert "recent" in {t.state for t in tickets}
    # at most one call per second (+ the one that started at once), never one per request
    assert 1 <= calls <= took / 1.0 + 2, f"{calls} calls for 2000 requests in {took:.1f}s"


def test_a_storm_against_a_failing_control_plane_logs_one_warning(
    make_manager: Make, caplog: pytest.LogCaptureFixture
) -> None:
    """Finding 3: 2000 reloads with the control plane down made 2000 calls and 2000 WARNINGs."""
    caplog.set_level(logging.DEBUG, logger="soajs")
    with FaultyPlane() as plane:
        manager = make_manager("hello", registry_api=plane.address, auto_reload=False)
        plane.mode = "reset"
        start = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            tickets = list(pool.map(lambda _: manager.request_reload(), range(2000)))
        results = [t.future.result(timeout=10) for t in tickets]
        took = elapsed(start)
        calls = plane.paths["/getRegistry"] - 1
    assert not any(r.ok for r in results)
    assert calls <= took / 1.0 + 2, f"{calls} calls in {took:.1f}s"
    warnings = _warnings(caplog)
    assert len(warnings) == 1, warnings
    assert "further failures are counted, not logged" in warnings[0]


def test_an_outage_then_recovery_logs_two_lines_with_the_count(
    make_manager: Make, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="soajs")
    with FaultyPlane() as plane:
        plane.registry["serviceConfig"]["awareness"]["autoRelaodRegistry"] = 1000
        manager = make_manager("hello", registry_api=plane.address, max_backoff=0.2)
        plane.mode = "reset"
        assert wait_until(lambda: plane.paths["/getRegistry"] >= 6, timeout=10)
        plane.mode = "ok"
        assert wait_until(lambda: manager.last_error is None and not manager._outage.active, 10)
    warnings = _warnings(caplog)
    assert len(warnings) == 2, warnings
    assert "reachable again after" in warnings[1]
    suppressed = int(warnings[1].split("; ")[1].split()[0])
    assert suppressed >= 4  # the failures in between: counted, not logged


@pytest.mark.slow
def test_a_flapping_control_plane_is_one_storm_not_many_outages(
    make_manager: Make, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="soajs")
    with FaultyPlane() as plane:
        plane.registry["serviceConfig"]["awareness"]["autoRelaodRegistry"] = 1000
        manager = make_manager("hello", registry_api=plane.address, max_backoff=0.2)
        deadline = time.monotonic() + 5
        flips = 0
        while time.monotonic() < deadline:
            plane.mode = "reset" if plane.mode == "ok" else "ok"
            flips += 1
            time.sleep(0.6)
        plane.mode = "ok"
        manager.reload(timeout=5)
    outages = [m for m in _warnings(caplog) if "failed:" in m]
    assert flips >= 8
    assert len(outages) == 1, outages
    assert len(_warnings(caplog)) <= 2


def test_a_service_never_listed_backs_off_its_registrations(
    make_manager: Make, caplog: pytest.LogCaptureFixture
) -> None:
    """Finding 6: a control plane that never lists the service; it used to
    re-register and warn on every poll."""
    caplog.set_level(logging.DEBUG, logger="soajs")
    config = Config(name="ghost", group="Demo", port=4399, extKeyRequired=True)
    with FaultyPlane() as plane:
        plane.registry["serviceConfig"]["awareness"]["autoRelaodRegistry"] = 1000
        manager = make_manager(
            "ghost", registry_api=plane.address, deploy_manual=True, config=config
        )
        assert wait_until(lambda: plane.paths["/getRegistry"] >= 7, timeout=15)
        polls = plane.paths["/getRegistry"]
        registrations = plane.paths["/register"]
        assert manager.is_ready
    # 1 at start, then again after 2 s, 4 s...: not one per poll
    assert registrations <= 3, f"{registrations} registrations in {polls} polls"
    unlisted = [m for m in _warnings(caplog) if "does not list" in m]
    assert len(unlisted) == 1, unlisted


# -- the project's own local control plane --------------------------------------------


def test_a_reload_storm_on_the_local_control_plane(
    control_plane: ControlPlaneServer, make_manager: Make
) -> None:
    manager = make_manager("hello", registry_api=control_plane.address, auto_reload=False)
    assert control_plane.store.calls["/getRegistry"] == 1
    start = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        tickets = list(pool.map(lambda _: manager.request_reload(), range(1000)))
    outcomes = [t.future.result(timeout=10) for t in tickets]
    took = elapsed(start)
    calls = control_plane.store.calls["/getRegistry"] - 1
    assert all(o.ok for o in outcomes)
    assert 1 <= calls <= took + 2, f"{calls} calls for 1000 requests in {took:.1f}s"


def test_stop_is_bounded_with_a_silent_control_plane_at_start(tmp_path: Path) -> None:
    """A degraded start against a peer that never answers: stop() still keeps its bound."""
    with FaultyPlane("silent") as plane:
        manager = RegistryManager(
            "hello", "dev", registry_api=plane.address, timeout=0.5, start_degraded=True
        )
        assert wait_until(lambda: plane.requests >= 2, timeout=5)
        start = time.monotonic()
        manager.stop(timeout=1)
        assert elapsed(start) < 3.0
        assert wait_until(lambda: not manager.is_running, timeout=3)


def test_stop_and_reload_are_bounded_with_a_blackholed_control_plane(make_manager: Make) -> None:
    """A control plane whose accept queue is full: connects hang (SYNs dropped) or sit unread."""
    with FaultyPlane() as plane:
        manager = make_manager("hello", registry_api=plane.address, timeout=20)
    # the same port, now a socket that listens and never accepts, its queue filled
    host, port = plane.address.split(":")
    hole = socket.socket()
    fillers: list[socket.socket] = []
    try:
        hole.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        hole.bind((host, int(port)))
        hole.listen(0)
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex((host, int(port)))
            fillers.append(filler)
        start = time.monotonic()
        with pytest.raises(RegistryError, match="did not finish within 1s"):
            manager.reload(timeout=1)
        assert elapsed(start) < 3.0
        start = time.monotonic()
        manager.stop(timeout=1)
        assert elapsed(start) < 3.0
        assert manager.get_database("main").name == "main"  # the last good registry stays
    finally:
        for filler in fillers:
            filler.close()
        hole.close()
    # the worker's connect is cancelled or times out; with the hole closed it ends at once
    assert wait_until(lambda: not manager.is_running, timeout=5)
