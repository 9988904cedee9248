"""Run one connector scenario sync or async, so every fault test has its twin."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from soajs.connector import AsyncServiceConnector, ServiceConnector, transport
from soajs.models import ContextData

KINDS = ("sync", "async")
Caller = Callable[..., httpx.Response]


def caller(kind: str, context: ContextData | None, **options: Any) -> Caller:
    """``caller(kind, ctx)("b", "/x", method="GET", **kwargs)``: a buffered call, either way."""
    if kind == "sync":
        sync = ServiceConnector(context, **options)

        def call(name: str, path: str, method: str = "GET", **kwargs: Any) -> httpx.Response:
            return sync.request(name, method, path, **kwargs)

        return call
    connector = AsyncServiceConnector(context, **options)

    def acall(name: str, path: str, method: str = "GET", **kwargs: Any) -> httpx.Response:
        async def main() -> httpx.Response:
            try:
                return await connector.request(name, method, path, **kwargs)
            finally:
                await transport.aclose()

        return asyncio.run(main())

    return acall


def stream_count(kind: str, context: ContextData | None, name: str, path: str, **kw: Any) -> int:
    """Stream the answer with ``connector.stream`` and count its bytes (keeping none)."""
    if kind == "sync":
        total = 0
        with ServiceConnector(context).stream(name, "GET", path, **kw) as answer:
            for chunk in answer.iter_bytes():
                total += len(chunk)
        return total

    async def main() -> int:
        total = 0
        try:
            async with AsyncServiceConnector(context).stream(name, "GET", path, **kw) as answer:
                async for chunk in answer.aiter_bytes():
                    total += len(chunk)
        finally:
            await transport.aclose()
        return total

    return asyncio.run(main())


def _status_kib(field: str) -> int:
    text = Path("/proc/self/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.M)
    assert match, field
    return int(match.group(1))


def peak_rss_growth_mib(run: Callable[[], object]) -> float:
    """How far this process's resident memory peaked above where it was, while ``run`` ran.

    Resets the kernel's high-water mark first (``/proc/self/clear_refs``, ``5``),
    so the peak is this run's; falls back to the end-minus-start VmRSS.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
        field = "VmHWM"
    except OSError:
        field = "VmRSS"
    before = _status_kib("VmRSS")
    try:
        run()
    finally:
        after = _status_kib(field)
    return (after - before) / 1024
