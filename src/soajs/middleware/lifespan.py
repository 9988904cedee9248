"""The ASGI ``lifespan`` scope of `soajs.middleware.asgi.SOAJSMiddleware`.

The middleware's own start-up (registry, maintenance listener) runs before the
app's, its shutdown after the app's; a failure of ours is answered
``lifespan.startup.failed`` with a message that says what failed. An app that
does not speak lifespan (Django's ASGIHandler) gets it answered for it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from soajs.errors import RegistryError, SoajsError
from soajs.middleware.asgi_types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["serve_lifespan"]

logger = logging.getLogger("soajs.middleware")

#: the middleware's startup() or shutdown()
Phase = Callable[[], Awaitable[None]]


async def serve_lifespan(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send, startup: Phase, shutdown: Phase
) -> None:
    """Start ours before the app's start-up, stop ours after the app's shutdown.

    A failure of ours is answered ``lifespan.startup.failed`` with a message
    that says what failed (uvicorn then exits with it): never a half-started
    app. The app's own messages go to the server unchanged.
    """
    received = False
    failed = False  # we answered startup.failed: the server has its answer
    started = False

    async def wrapped_receive() -> Message:
        nonlocal received, failed, started
        message = await receive()
        received = True
        if message["type"] == "lifespan.startup":
            try:
                await startup()
            except Exception as exc:
                failed = True
                await send({"type": "lifespan.startup.failed", "message": _failure(exc)})
                raise _StartupFailed from exc
            started = True
        return message

    async def wrapped_send(message: Message) -> None:
        nonlocal started
        if failed:
            return  # the app reacting to our failure: the server already knows
        if (
            message["type"]
            in (
                "lifespan.startup.failed",
                "lifespan.shutdown.complete",
                "lifespan.shutdown.failed",
            )
            and started
        ):
            started = False
            await shutdown()
        await send(message)

    try:
        await app(scope, wrapped_receive, wrapped_send)
    except Exception as exc:
        if failed:
            return
        if received:  # the app's own lifespan failed: the server reports it
            if started:
                await shutdown()
            raise
        # An app that does not speak lifespan (Django's ASGIHandler raises):
        # the registry and the listener must start all the same.
        logger.info(
            "the app refused the lifespan scope (%s: %s); SOAJSMiddleware answers it",
            type(exc).__name__,
            exc,
        )
        await _own_lifespan(receive, send, startup, shutdown)
        return
    if started:  # the app returned without a shutdown answer
        await shutdown()


async def _own_lifespan(receive: Receive, send: Send, startup: Phase, shutdown: Phase) -> None:
    while True:
        message = await receive()
        phase = "startup" if message["type"] == "lifespan.startup" else "shutdown"
        try:
            await (startup() if phase == "startup" else shutdown())
        except Exception as exc:
            await send({"type": f"lifespan.{phase}.failed", "message": _failure(exc)})
            return
        await send({"type": f"lifespan.{phase}.complete"})
        if phase == "shutdown":
            return


class _StartupFailed(Exception):
    """Our start-up failed and the server was told: ends the app's lifespan."""


def _failure(exc: BaseException) -> str:
    """The ``lifespan.startup.failed`` message: what failed, and what to do."""
    text = f"SOAJS start-up failed: {type(exc).__name__}: {exc}"
    if isinstance(exc, RegistryError):
        text += (
            " (the service does not start without its registry; build the RegistryManager "
            "with start_degraded=True to serve without it, readiness answering 503 until "
            "it loads)"
        )
    if isinstance(exc, SoajsError):
        logger.error("%s", text)
    else:
        logger.error("%s", text, exc_info=exc)
    return text
