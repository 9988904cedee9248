"""The context of the request being handled, for code deep in the call stack.

Set by the middlewares for the duration of a request and reset in
``finally``, so it never leaks into the next request on the same thread or
task. One variable holds the pair (context, request): the request is the
ASGI scope or WSGI environ the context came with, so the connector can find
the inbound trace headers and credentials without any per-request work here.

A WSGI body produced after the app returns (a generator, a streaming
response) runs outside that ``try``: :class:`ContextIterable` makes the pair
current again around each chunk.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableMapping
from contextvars import ContextVar, Token
from typing import Any

from soajs.models.context import ContextData

__all__ = [
    "CURRENT",
    "RESET_CURRENT",
    "SET_CURRENT",
    "ContextIterable",
    "Current",
    "current_context",
    "current_request",
    "reset_context",
    "set_context",
]

#: (context, request): the request is the ASGI scope / WSGI environ, or ``None``.
Current = tuple[ContextData | None, MutableMapping[str, Any] | None]

_NOTHING: Current = (None, None)

#: The variable itself, for the middlewares' hot paths (one call fewer per
#: request than :func:`set_context` / :func:`reset_context`).
CURRENT: ContextVar[Current] = ContextVar("soajs_context", default=_NOTHING)

#: ``CURRENT.set`` and ``CURRENT.reset``, bound once for the middlewares' hot paths:
#: CPython 3.11 compiles ``CURRENT.set(...)`` on an imported name as an attribute
#: load, which makes a bound method on every call.
SET_CURRENT = CURRENT.set
RESET_CURRENT = CURRENT.reset


def current_context() -> ContextData | None:
    """The SOAJS context of the current request, or ``None`` outside one."""
    return CURRENT.get()[0]


def current_request() -> MutableMapping[str, Any] | None:
    """The ASGI scope or WSGI environ of the current request, or ``None``."""
    return CURRENT.get()[1]


def set_context(
    context: ContextData | None, request: MutableMapping[str, Any] | None = None
) -> Token[Current]:
    """Make ``context`` current; pass the token to :func:`reset_context` in ``finally``."""
    return CURRENT.set((context, request))


def reset_context(token: Token[Current]) -> None:
    """Undo :func:`set_context`."""
    CURRENT.reset(token)


class ContextIterable:
    """A WSGI response body whose chunks are produced with the request's context current.

    Keeps PEP 3333's contract: :meth:`close` closes the wrapped iterable (also
    with the context current).
    """

    __slots__ = ("_current", "_iterable", "_iterator")

    def __init__(self, iterable: Iterable[Any], current: Current) -> None:
        self._iterable = iterable
        self._iterator: Iterator[Any] | None = None
        self._current = current

    def __iter__(self) -> ContextIterable:
        return self

    def __next__(self) -> Any:
        token = CURRENT.set(self._current)
        try:
            if self._iterator is None:
                self._iterator = iter(self._iterable)
            return next(self._iterator)
        finally:
            CURRENT.reset(token)

    def close(self) -> None:
        close = getattr(self._iterable, "close", None)
        if close is not None:
            token = CURRENT.set(self._current)
            try:
                close()
            finally:
                CURRENT.reset(token)
