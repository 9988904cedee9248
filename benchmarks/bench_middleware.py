"""Per-request cost of the SOAJS middlewares, against baselines run in the same process.

Reproduce with ``make bench-middleware`` (or
``.venv/bin/python benchmarks/bench_middleware.py [--e2e]``).

Headers are generated here (:mod:`benchmarks._headers`), shaped as the
gateway builds them: about 2 KB and 60 KB with the bulk spread over every
part (urac groups and ACL, interConnect, key config, package ACL, tenant
profile), and 60 KB with the bulk in the typed parts only (256 interConnect
entries, the rest urac groups).

In-process (default): ASGI requests driven straight into a Starlette app (and
WSGI ones into a WSGI app), no network, many short interleaved rounds (each
round runs every variant once, so a burst of load from other processes hits
all of them alike), timed in the thread's CPU time (time spent descheduled by
other jobs is not counted). For each header: the bare app, three baseline middlewares that only
decode the header (``json.loads``, ``msgspec``, ``orjson``) and ours with the
cache off (every request parsed: the first sight of a header); at 2 KB, ours
with a warm cache too. Printed: best-of-rounds µs per request, the overhead
over the bare app, and ours / baseline as the median of per-round ratios.

``--e2e``: real uvicorn, server CPU per request (:mod:`benchmarks._e2e`).

``--instructions``: the end-to-end ratios in instructions (callgrind), which
the load of other processes does not move (:mod:`benchmarks._instructions`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import orjson
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._apps import JsonOnlyMiddleware
from benchmarks._e2e import e2e
from benchmarks._headers import gateway_header
from benchmarks._instructions import instructions
from soajs.middleware import SOAJSMiddleware, SOAJSWSGIMiddleware
from soajs.middleware.core import MiddlewareOptions
from soajs.observability import tracing

HEADERS = {
    "2 KB spread": gateway_header(2048, "spread"),
    "60 KB spread": gateway_header(60 * 1024, "spread"),
    "60 KB typed": gateway_header(60 * 1024, "typed"),
}
DECODERS: dict[str, Callable[[bytes], Any]] = {
    "json.loads": json.loads,
    "msgspec": msgspec.json.Decoder().decode,
    "orjson": orjson.loads,
}
OURS: MiddlewareOptions = {"trusted_gateways": "*", "health": False}
COLD: MiddlewareOptions = {**OURS, "cache_size": 0}


# -- ASGI --------------------------------------------------------------------------
async def hello(request: Any) -> PlainTextResponse:
    return PlainTextResponse("ok")


def starlette() -> Starlette:
    return Starlette(routes=[Route("/", hello)])


def asgi_round(app: Any, header: bytes, n: int) -> float:
    headers = [(b"host", b"bench"), (b"user-agent", b"bench"), (b"accept", b"*/*")]
    # A server builds a new bytes object per request (whose hash is not computed
    # yet); so does this loop, for every variant alike, bare app included.
    source = bytearray(header)
    base = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/", "raw_path": b"/", "query_string": b"", "root_path": "",
        "headers": headers, "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80),
    }  # fmt: skip

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        return None

    async def run() -> float:
        start = time.thread_time_ns()
        for _ in range(n):
            fresh = [*headers, (b"soajsinjectobj", bytes(source))]
            await app(dict(base, headers=fresh), receive, send)
        return (time.thread_time_ns() - start) / n / 1000

    return asyncio.run(run())


# -- WSGI --------------------------------------------------------------------------
def wsgi_hello(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


class WsgiDecodeOnly:
    def __init__(self, app: Any, loads: Callable[[bytes], Any]) -> None:
        self.app = app
        self.loads = loads

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        raw = environ.get("HTTP_SOAJSINJECTOBJ")
        if raw is not None:
            environ["soajs.context"] = self.loads(raw.encode("latin-1"))
        return self.app(environ, start_response)


def wsgi_round(app: Any, header: bytes, n: int) -> float:
    base = {
        "REQUEST_METHOD": "GET", "PATH_INFO": "/", "QUERY_STRING": "", "SERVER_NAME": "bench",
        "SERVER_PORT": "80", "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "bench",
        "wsgi.url_scheme": "http", "HTTP_SOAJSINJECTOBJ": header.decode("latin-1"),
    }  # fmt: skip

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        return None

    start = time.thread_time_ns()
    for _ in range(n):
        for _chunk in app(dict(base), start_response):
            pass
    return (time.thread_time_ns() - start) / n / 1000


# -- the table ---------------------------------------------------------------------
Variant = tuple[str, str, Any, bytes]  # header name, variant name, app, header


def variants(asgi: bool) -> list[Variant]:
    out: list[Variant] = []
    for hname, header in HEADERS.items():
        if asgi:
            out.append((hname, "bare app", starlette(), header))
            for dname, loads in DECODERS.items():
                out.append((hname, f"{dname}-only", JsonOnlyMiddleware(starlette(), loads), header))
            out.append((hname, "soajs cold", SOAJSMiddleware(starlette(), **COLD), header))
            if header is HEADERS["2 KB spread"]:
                out.append((hname, "soajs warm", SOAJSMiddleware(starlette(), **OURS), header))
                off = SOAJSMiddleware(starlette(), **OURS)
                off.core.resolver.counts = None  # what SOAJS_METRICS=0 does
                out.append((hname, OBS_OFF, off, header))
        else:
            out.append((hname, "bare app", wsgi_hello, header))
            for dname, loads in DECODERS.items():
                out.append((hname, f"{dname}-only", WsgiDecodeOnly(wsgi_hello, loads), header))
            out.append((hname, "soajs cold", SOAJSWSGIMiddleware(wsgi_hello, **COLD), header))
            if header is HEADERS["2 KB spread"]:
                out.append((hname, "soajs warm", SOAJSWSGIMiddleware(wsgi_hello, **OURS), header))
                wsgi_off = SOAJSWSGIMiddleware(wsgi_hello, **OURS)
                wsgi_off.core.resolver.counts = None
                out.append((hname, OBS_OFF, wsgi_off, header))
    return out


#: The warm middleware without observability: no counts (SOAJS_METRICS=0) and, while
#: its rounds run, no OpenTelemetry check (SOAJS_OTEL=0), so on / off is all it costs.
OBS_OFF = "warm, obs off"


def timed(runner: Callable[..., float], vname: str, app: Any, header: bytes, n: int) -> float:
    if vname != OBS_OFF:
        return runner(app, header, n)
    api, tracing.api = tracing.api, tracing._NoApi
    try:
        return runner(app, header, n)
    finally:
        tracing.api = api


def run_table(title: str, runner: Callable[..., float], table: list[Variant], n: int,
              rounds: int) -> None:  # fmt: skip
    per_round: dict[tuple[str, str], list[float]] = {(h, v): [] for h, v, _, _ in table}
    for _ in range(rounds):
        for hname, vname, app, header in table:
            count = max(1, n * 2048 // len(header))
            per_round[(hname, vname)].append(timed(runner, vname, app, header, count))
    print(f"\n{title}: {n} requests of 2 KB per round (fewer for 60 KB, same bytes), "
          f"{rounds} interleaved rounds")  # fmt: skip
    for hname, header in HEADERS.items():
        best = {v: min(t) for (h, v), t in per_round.items() if h == hname}
        bare = best["bare app"]
        print(f"\n  {hname} ({len(header)} bytes)")
        print(f"    {'variant':18} {'us/request':>11} {'overhead us':>12}")
        for vname, us in best.items():
            print(f"    {vname:18} {us:11.2f} {us - bare:12.2f}")

        def ratio(a: str, b: str, h: str = hname) -> float:
            pairs = sorted(x / y for x, y in zip(per_round[(h, a)], per_round[(h, b)], strict=True))
            return pairs[len(pairs) // 2]

        cold = ratio("soajs cold", "json.loads-only")
        fastest = min(DECODERS, key=lambda d: best[f"{d}-only"])
        print(f"    cold: {cold:.3f}x the json.loads-only middleware (goal <= 1.0), "
              f"{ratio('soajs cold', f'{fastest}-only'):.3f}x the fastest decode-only "
              f"({fastest}; stretch goal <= 1.0)")  # fmt: skip
        if "soajs warm" in best:
            warm, base = per_round[(hname, "soajs warm")], per_round[(hname, "bare app")]
            diffs = sorted(w - b for w, b in zip(warm, base, strict=True))
            median = diffs[len(diffs) // 2]
            print(
                f"    warm overhead: best {best['soajs warm'] - bare:.2f} us, median of "
                f"per-round differences {median:.2f} us (goal <= 1.0)"
            )
        if OBS_OFF in best:
            on, off = per_round[(hname, "soajs warm")], per_round[(hname, OBS_OFF)]
            added = sorted(a - b for a, b in zip(on, off, strict=True))[len(on) // 2]
            print(
                f"    observability (metrics counts + OpenTelemetry check) on / off: "
                f"{ratio('soajs warm', OBS_OFF):.3f}x, {added * 1000:.0f} ns/request added "
                f"(median of per-round differences; goal <= 300 ns)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="2 KB requests per round")
    parser.add_argument("--rounds", type=int, default=31)
    parser.add_argument("--e2e", action="store_true", help="run the uvicorn end-to-end mode")
    parser.add_argument("--wsgi", action="store_true", help="run the WSGI table too")
    parser.add_argument(
        "--instructions", action="store_true", help="end-to-end ratios in instructions (valgrind)"
    )
    parser.add_argument("--seconds", type=float, default=2.0, help="per app and --e2e round")
    parser.add_argument("--e2e-rounds", type=int, default=9)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    print("headers: " + ", ".join(f"{k} = {len(v)} bytes" for k, v in HEADERS.items()))
    if args.instructions:
        instructions()
    elif args.e2e:
        e2e(HEADERS["2 KB spread"], args.seconds, args.e2e_rounds)
    else:
        run_table("ASGI (Starlette), cache off unless warm", asgi_round, variants(True),
                  args.n, args.rounds)  # fmt: skip
        if args.wsgi:
            run_table("WSGI", wsgi_round, variants(False), args.n, args.rounds)
    print(
        "\nreproduce: make bench-middleware  (in-process, then --e2e: uvicorn); instruction"
        " counts: .venv/bin/python benchmarks/bench_middleware.py --instructions (valgrind)"
    )


if __name__ == "__main__":
    main()
