"""The context of the request being handled, for code deep in the call stack.

Set by the middlewares for the duration of a request and reset in
``finally``, so it never leaks into the next request on the same thread or
task.
"""

from __future__ import annotations

from contextvars import ContextVar, Token

from soajs.models.context import ContextData

__all__ = ["CURRENT", "current_context", "reset_context", "set_context"]

#: The variable itself, for the middlewares' hot paths (one call fewer per
#: request than :func:`set_context` / :func:`reset_context`).
CURRENT: ContextVar[ContextData | None] = ContextVar("soajs_context", default=None)
_CURRENT = CURRENT


def current_context() -> ContextData | None:
    """The SOAJS context of the current request, or ``None`` outside one."""
    return _CURRENT.get()


def set_context(context: ContextData | None) -> Token[ContextData | None]:
    """Make ``context`` current; pass the token to :func:`reset_context` in ``finally``."""
    return _CURRENT.set(context)


def reset_context(token: Token[ContextData | None]) -> None:
    """Undo :func:`set_context`."""
    _CURRENT.reset(token)
