"""Registry read throughput: ``manager.get_database(name)`` against a plain dict lookup.

Reproduce with ``make bench`` (or ``.venv/bin/python benchmarks/bench_registry.py``).

Both sides run in this process, in the same loop shape, best of several rounds,
first alone and then while another thread reloads the registry from a real
local control plane as fast as it can. The ratio is dict time / our time
(1.0 = as fast as the dict; the goal is >= 0.8).
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from soajs import RegistryManager
from soajs.controlplane import ControlPlaneServer

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = ROOT / "examples" / "registry.json"


def best_ns_per_op(loop: Callable[[int], None], n: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter_ns()
        loop(n)
        best = min(best, (time.perf_counter_ns() - start) / n)
    return best


def measure(manager: RegistryManager, n: int, rounds: int) -> dict[str, float]:
    plain = dict(manager.get_all_databases())

    def dict_subscript(count: int) -> None:
        d = plain
        for _ in range(count):
            d["main"]

    def dict_get(count: int) -> None:
        d = plain
        for _ in range(count):
            d.get("main")

    lock = threading.RLock()

    def locked_read(count: int) -> None:
        # the seed's documented design: take the RLock on every read
        d = plain
        for _ in range(count):
            with lock:
                d["main"]

    class Holder:
        pass

    holder = Holder()
    holder.get = plain.get  # type: ignore[attr-defined]

    def bound_builtin_call(count: int) -> None:
        # the floor for any method-call API: an attribute holding a C callable
        h = holder
        for _ in range(count):
            h.get("main")  # type: ignore[attr-defined]

    def soajs_get_database(count: int) -> None:
        m = manager
        for _ in range(count):
            m.get_database("main")

    def soajs_registry_attr(count: int) -> None:
        m = manager
        for _ in range(count):
            m.registry.core_dbs["main"]

    return {
        "dict[name]": best_ns_per_op(dict_subscript, n, rounds),
        "dict.get(name)": best_ns_per_op(dict_get, n, rounds),
        "obj.attr(name), attr = dict.get": best_ns_per_op(bound_builtin_call, n, rounds),
        "with rlock: dict[name]": best_ns_per_op(locked_read, n, rounds),
        "manager.get_database(name)": best_ns_per_op(soajs_get_database, n, rounds),
        "manager.registry.core_dbs[name]": best_ns_per_op(soajs_registry_attr, n, rounds),
    }


def report(title: str, results: dict[str, float]) -> None:
    base = results["dict[name]"]
    print(f"\n{title}")
    print(f"  {'operation':36} {'ns/op':>8} {'ops/s':>14} {'vs dict[name]':>14}")
    for name, ns in results.items():
        print(f"  {name:36} {ns:8.1f} {1e9 / ns:14,.0f} {base / ns:13.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2_000_000, help="lookups per round")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    with ControlPlaneServer(REGISTRY) as plane:
        os.environ.setdefault("SOAJS_ENV", "dev")
        with RegistryManager("hello", registry_api=plane.address, auto_reload=False) as manager:
            alone = measure(manager, args.n, args.rounds)
            report("no concurrent reload", alone)

            stop = threading.Event()
            reloads = 0

            def reloader() -> None:
                nonlocal reloads
                while not stop.is_set():
                    manager.reload()
                    reloads += 1

            thread = threading.Thread(target=reloader, daemon=True)
            started = time.perf_counter()
            thread.start()
            try:
                busy = measure(manager, args.n, args.rounds)
            finally:
                stop.set()
                thread.join()
            elapsed = time.perf_counter() - started
            report(
                f"while another thread reloads from the control plane "
                f"({reloads} reloads, {reloads / elapsed:.0f}/s)",
                busy,
            )

    ratio_alone = alone["dict[name]"] / alone["manager.get_database(name)"]
    ratio_busy = busy["dict[name]"] / busy["manager.get_database(name)"]
    ours = alone["manager.get_database(name)"]
    print(
        f"\nget_database throughput vs dict[name]: {ratio_alone:.2f}x alone, "
        f"{ratio_busy:.2f}x during reloads; goal >= 0.8x"
    )
    print(
        f"  vs dict.get(name): {alone['dict.get(name)'] / ours:.2f}x; "
        f"vs the call floor (attribute holding dict.get): "
        f"{alone['obj.attr(name), attr = dict.get'] / ours:.2f}x; "
        f"vs a lock per read: {alone['with rlock: dict[name]'] / ours:.2f}x"
    )
    print("reproduce: make bench  (or .venv/bin/python benchmarks/bench_registry.py)")


if __name__ == "__main__":
    main()
