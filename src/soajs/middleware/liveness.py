"""Is the process that serves traffic alive? Ask its event loop.

The maintenance listener is a thread of its own: it would answer in a
millisecond while a handler blocks the serving event loop (``time.sleep`` in
an ``async def``) and the service port times out. So before answering
``/heartbeat`` or readiness it schedules a no-op on the serving loop
(``call_soon_threadsafe``) and waits for it, at most ``stall_timeout``
seconds: no answer means the loop is wedged, and the probe answers 503.

WSGI servers have no such loop: a long request occupies one thread, not the
process, and the gateway expects the heartbeat to answer during a long
request (it re-probes it while one runs). There the listener answers for the
process, which a stopped or dead worker cannot do.
"""

from __future__ import annotations

import asyncio
import contextlib

__all__ = ["LoopWatch"]


class LoopWatch:
    """The serving event loop, if any (set by the ASGI middleware)."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None

    def watch(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self.loop = loop

    async def stalled(self, timeout: float) -> str | None:
        """``None`` if the serving loop runs a callback within ``timeout`` s, else why not."""
        serving = self.loop
        if serving is None:
            return None
        if serving.is_closed():
            return "the event loop of the serving process is closed"
        here = asyncio.get_running_loop()
        if serving is here:
            return None
        answered = here.create_future()

        def resolve() -> None:
            if not answered.done():
                answered.set_result(None)

        def pong() -> None:
            with contextlib.suppress(RuntimeError):  # the listener stopped meanwhile
                here.call_soon_threadsafe(resolve)

        try:
            serving.call_soon_threadsafe(pong)
        except RuntimeError:
            return "the event loop of the serving process is closed"
        try:
            async with asyncio.timeout(timeout):
                await answered
        except TimeoutError:
            return (
                f"the event loop of the serving process did not answer within {timeout:g}s "
                "(a handler blocks it?)"
            )
        return None
