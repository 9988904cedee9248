"""ServiceConnector costs: connect() against a dict look-up; pooled GET vs a client per call.

Reproduce with ``make bench-connector`` (or ``.venv/bin/python benchmarks/bench_connector.py``).

1. ``connect(name, version)`` warm (the route table of the context is built),
   mesh and gateway routes, with inbound trace headers (later calls of a
   request reuse its routes; the first one parses the headers and builds
   them, measured with a fresh request scope made current), against ``dict[key]``.
   Goal: <= 1 us warm.
2. A GET to a loopback HTTP/1.1 server (stdlib, keep-alive, in this process)
   through ``ServiceConnector.get`` (shared pool, retries and breaker armed),
   through the bare pooled ``httpx.Client``, and with a new ``httpx.Client``
   per call (the seed's ``httpx.get``). Goal: pooled >= 3x faster per call.

Best of several rounds; ratios are computed within this one run.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from soajs.connector import ServiceConnector, inbound, transport
from soajs.context import parse_inject_header
from soajs.context.current import CURRENT

COMMAND = "make bench-connector"


def best_ns_per_op(loop: Callable[[int], None], n: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter_ns()
        loop(n)
        best = min(best, (time.perf_counter_ns() - start) / n)
    return best


def make_connector(gateway_port: int, mesh_port: int) -> ServiceConnector:
    header = {
        "tenant": {"id": "t1", "code": "TST1"},
        "key": {"iKey": "i", "eKey": "e" * 64, "config": {}},
        "application": {"product": "P", "package": "P_B"},
        "awareness": {
            "host": "127.0.0.1",
            "port": gateway_port,
            "interConnect": [
                {"name": "b", "version": "1", "host": "127.0.0.1", "port": mesh_port, "latest": "1"}
            ],
        },
    }
    raw = json.dumps(header).encode()
    context = parse_inject_header([raw], 65536).context
    assert context is not None
    return ServiceConnector(context.bind(None, raw))


def bench_connect(n: int, rounds: int) -> dict[str, float]:
    connector = make_connector(4000, 4381)
    table = {("b", "1"): object()}
    connector.connect("b", "1")
    connector.connect("other", "1")

    def dict_lookup(count: int) -> None:
        t = table
        for _ in range(count):
            t[("b", "1")]

    def connect_mesh(count: int) -> None:
        c = connector.connect
        for _ in range(count):
            c("b", "1")

    def connect_gateway(count: int) -> None:
        c = connector.connect
        for _ in range(count):
            c("other", "1")

    results = {
        "dict[key]": best_ns_per_op(dict_lookup, n, rounds),
        "connect() mesh": best_ns_per_op(connect_mesh, n, rounds),
        "connect() gateway": best_ns_per_op(connect_gateway, n, rounds),
    }
    trace = [(b"traceparent", b"00-" + b"a" * 32 + b"-" + b"b" * 16 + b"-01")]
    with inbound({"traceparent": trace[0][1].decode()}):
        results["connect() mesh, traced request"] = best_ns_per_op(connect_mesh, n, rounds)

    context = connector.context

    def new_request(count: int) -> None:
        c = connector.connect
        for _ in range(count):
            # what the middleware does once per request: a fresh scope made current
            token = CURRENT.set((context, {"type": "http", "headers": trace}))
            c("b", "1")
            CURRENT.reset(token)

    results["new request + 1st connect(), traced"] = best_ns_per_op(new_request, n, rounds)
    return results


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    body = b'{"ok":true}'

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def bench_calls(n: int, rounds: int) -> dict[str, float]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        connector = make_connector(port, port)
        connection = connector.connect("b", "1")
        url = connection.url("/ping")
        pooled = transport.sync_client()

        def via_connector(count: int) -> None:
            for _ in range(count):
                connector.get("b", "/ping", version="1")

        def via_pool(count: int) -> None:
            for _ in range(count):
                pooled.get(url, headers=connection.headers)

        def client_per_call(count: int) -> None:
            for _ in range(count):
                httpx.get(url, headers=connection.headers)

        via_pool(20)  # warm the pool
        return {
            "pooled httpx.Client": best_ns_per_op(via_pool, n, rounds),
            "connector.get()": best_ns_per_op(via_connector, n, rounds),
            "new client per call": best_ns_per_op(client_per_call, max(n // 4, 5), rounds),
        }
    finally:
        transport.close()
        server.shutdown()
        server.server_close()
        thread.join()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000, help="connect() calls per round")
    parser.add_argument("--calls", type=int, default=200, help="HTTP calls per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    print(f"reproduce: {COMMAND}  (benchmarks/bench_connector.py --n {args.n} "
          f"--calls {args.calls} --rounds {args.rounds})")  # fmt: skip
    print("\n1. connect() warm, per call (best of rounds)")
    routing = bench_connect(args.n, args.rounds)
    base = routing["dict[key]"]
    for name, ns in routing.items():
        print(f"  {name:32} {ns / 1000:8.3f} us   {ns / base:5.1f}x dict")
    # The goal is for warm calls; the first call of a request also parses its headers.
    worst = max(v for k, v in routing.items() if k.startswith("connect"))
    verdict = "met" if worst <= 1000 else "MISSED"
    print(f"  goal connect() <= 1 us warm: {verdict} (worst {worst / 1000:.3f} us)")

    print("\n2. GET to a loopback server, per call (best of rounds)")
    calls = bench_calls(args.calls, args.rounds)
    for name, ns in calls.items():
        print(f"  {name:32} {ns / 1000:8.1f} us")
    ratio = calls["new client per call"] / calls["pooled httpx.Client"]
    ratio_connector = calls["new client per call"] / calls["connector.get()"]
    overhead = calls["connector.get()"] - calls["pooled httpx.Client"]
    print(f"  pooled is {ratio:.1f}x faster than a client per call "
          f"(connector.get(): {ratio_connector:.1f}x; its routing, retry and breaker "
          f"overhead {overhead / 1000:.1f} us)")  # fmt: skip
    print(f"  goal pooled >= 3x: {'met' if ratio_connector >= 3 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
