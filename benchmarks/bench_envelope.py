"""The SOAJS envelope's cost: ``python benchmarks/bench_envelope.py``.

Each line is a ratio against the plain ``json`` call on the same data, run in
this process: ``decode_envelope`` (the connector's decoding, caps and checks
included) against ``json.loads`` of the same body, and ``dumps(build_response)``
against ``json.dumps`` of the same dict. The hostile bodies (a million codes,
200 000 levels of nesting) show the decoding stays bounded.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from soajs.connector import ServiceError
from soajs.connector.envelope import decode_envelope
from soajs.response import build_response, dumps


def per_call(fn: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def decoder(body: bytes) -> Callable[[], object]:
    def run() -> object:
        try:
            return decode_envelope(200, body, service="b")
        except ServiceError as exc:
            return exc

    return run


def main() -> None:
    bodies = {
        "success, 1000 items": json.dumps({"result": True, "data": list(range(1000))}).encode(),
        "error, 10^6 codes": json.dumps(
            {"result": False, "errors": {"codes": list(range(1, 10**6)), "details": []}}
        ).encode(),
    }
    for name, body in bodies.items():
        n = 5 if len(body) > 10**6 else 2000
        ours = per_call(decoder(body), n)
        base = per_call(lambda body=body: json.loads(body), n)  # type: ignore[misc]
        print(
            f"decode {name:22} {len(body) / 1e6:6.2f} MB  {ours * 1e3:8.3f} ms  "
            f"json.loads {base * 1e3:8.3f} ms  ratio {ours / base:.2f}"
        )
    deep = b"[" * 200_000 + b"]" * 200_000
    print(f"decode 200 000 levels deep      {per_call(decoder(deep), 20) * 1e3:8.3f} ms (refused)")
    data = {"items": list(range(1000))}
    ours = per_call(lambda: dumps(build_response(data)), 2000)
    base = per_call(lambda: json.dumps({"result": True, "data": data}).encode(), 2000)
    ratio = ours / base
    print(
        f"dumps(build_response) {ours * 1e6:.0f} us  json.dumps {base * 1e6:.0f} us"
        f"  ratio {ratio:.2f}"
    )


if __name__ == "__main__":
    main()
