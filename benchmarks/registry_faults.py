"""Measure the registry plane under faults (issue 11): times, calls, log lines, RSS.

Runs each fault against a real misbehaving HTTP server on loopback
(tests/integration/faulty_plane.py) and prints what it measured. It uses only
APIs that exist before and after issue 11, so the same script measures any
tree; from the repository root::

    .venv/bin/python benchmarks/registry_faults.py                 # this tree
    PYTHONPATH=/path/to/old/src .venv/bin/python benchmarks/registry_faults.py

Each blocking measurement runs in a daemon thread and is cut at ``CAP``
seconds (reported as ">CAP s").
"""

from __future__ import annotations

import logging
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import contextlib

from tests.integration.faulty_plane import FaultyPlane

import soajs
from soajs import Config, RegistryManager
from soajs.middleware.health import HealthEndpoints
from soajs.registry.client import RegistryClient

CAP = 15.0


class Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def timed(fn: Callable[[], Any], cap: float = CAP) -> str:
    """Seconds ``fn`` took, or '>cap s' when it was still running."""
    done = threading.Event()

    def run() -> None:
        try:
            fn()
        except Exception:
            pass
        finally:
            done.set()

    start = time.monotonic()
    threading.Thread(target=run, daemon=True).start()
    if not done.wait(cap):
        return f">{cap:.0f} s"
    return f"{time.monotonic() - start:.2f} s"


def trickle_client() -> str:
    with FaultyPlane("trickle") as plane:
        client = RegistryClient(f"http://{plane.address}", timeout=2)
        took = timed(lambda: client.get_registry("dev", "hello"))
    return f"client timeout=2, peer trickles 1 B/s: get_registry failed after {took}"


def stop_and_reload() -> list[str]:
    lines = []
    with FaultyPlane() as plane:
        manager = RegistryManager("hello", "dev", registry_api=plane.address, timeout=5)
        plane.mode = "trickle"
        threading.Thread(target=lambda: _quiet(manager.reload), daemon=True).start()
        time.sleep(0.5)
        took = timed(lambda: manager.stop(timeout=1))
        lines.append(f"reload() in flight while trickling: stop(timeout=1) took {took}")
    with FaultyPlane() as plane:
        manager = RegistryManager("hello", "dev", registry_api=plane.address, timeout=5)
        plane.mode = "trickle"
        try:
            call: Callable[[], Any] = lambda: manager.reload(timeout=2)  # noqa: E731
            _ = manager.reload.__code__.co_varnames.index("timeout")
        except ValueError:
            call = manager.reload  # before issue 11: no timeout parameter
        lines.append(f"reload(timeout=2) while trickling took {timed(call)}")
        timed(lambda: manager.stop(timeout=0), cap=1)  # before issue 11 this blocks for ever
    return lines


def _quiet(fn: Callable[[], Any]) -> None:
    with contextlib.suppress(Exception):
        fn()


def storm(requests: int = 2000) -> str:
    counter = Counter()
    logging.getLogger("soajs").addHandler(counter)
    try:
        with FaultyPlane() as plane:
            manager = RegistryManager("hello", "dev", registry_api=plane.address, auto_reload=False)
            health = HealthEndpoints(manager)
            plane.mode = "reset"  # down: every call fails
            start = time.monotonic()
            with ThreadPoolExecutor(64) as pool:
                statuses = list(
                    pool.map(
                        lambda _: health.answer("GET", "/reloadRegistry").status,  # type: ignore[union-attr]
                        range(requests),
                    )
                )
            took = time.monotonic() - start
            calls = plane.paths["/getRegistry"] - 1
            manager.stop(timeout=1)
    finally:
        logging.getLogger("soajs").removeHandler(counter)
    return (
        f"{requests} /reloadRegistry, control plane down: {took:.1f} s, {calls} control-plane "
        f"calls, {counter.count} WARNING lines, statuses {sorted(set(statuses))}"
    )


def never_listed(seconds: float = 6.0) -> str:
    counter = Counter()
    logging.getLogger("soajs").addHandler(counter)
    try:
        with FaultyPlane() as plane:
            plane.registry["serviceConfig"]["awareness"]["autoRelaodRegistry"] = 1000
            config = Config(name="ghost", group="Demo", port=4399)
            manager = RegistryManager("ghost", "dev", registry_api=plane.address,
                                      deploy_manual=True, config=config)  # fmt: skip
            time.sleep(seconds)
            manager.stop(timeout=1)
            polls, registrations = plane.paths["/getRegistry"], plane.paths["/register"]
    finally:
        logging.getLogger("soajs").removeHandler(counter)
    return (
        f"service never listed, {seconds:.0f} s: {polls} polls, {registrations} registrations, "
        f"{counter.count} WARNING lines"
    )


def huge_rss() -> str:
    out = subprocess.run(
        [sys.executable, __file__, "--rss-child"], capture_output=True, text=True, timeout=120,
        check=False, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
    )  # fmt: skip
    return out.stdout.strip() or out.stderr.strip()[-500:]


def _rss_child() -> None:
    with FaultyPlane("huge") as plane:
        plane.announce = False  # no Content-Length: the client must read to know
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        client = RegistryClient(f"http://{plane.address}", timeout=60)
        start = time.monotonic()
        error = ""
        try:
            client.get_registry("dev", "hello")
        except Exception as exc:
            error = str(exc)[:90]
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"100 MB answer: peak RSS +{(peak - base) / 1024:.0f} MiB over {base / 1024:.0f} MiB, "
        f"{time.monotonic() - start:.1f} s; {error}"
    )


def main() -> None:
    print(f"soajs from {Path(soajs.__file__).parent}")
    print(trickle_client())
    for line in stop_and_reload():
        print(line)
    print(storm())
    print(never_listed())
    print(huge_rss())


if __name__ == "__main__":
    if sys.argv[1:] == ["--rss-child"]:
        _rss_child()
    else:
        main()
