"""Event hooks: ``on_reload`` and ``on_breaker_change``, run off the library's threads.

Register a callable (also usable as a decorator):

```python
from soajs.observability import on_breaker_change, on_reload

@on_reload
def reloaded(event):      # ReloadEvent(service, ok, duration, error)
    ...

@on_breaker_change
def breaker(event):       # BreakerEvent(target, label, state, previous)
    ...
```

Hooks run on one daemon thread (``soajs-hooks``), in order, never on the
registry worker or inside a connector call: a slow hook delays only the
hooks after it, and the library never waits for one. At most
`MAX_PENDING` events wait; past that new events are dropped and
counted (one WARNING per `LOG_INTERVAL` says how many). A hook that
raises is logged (at most once per interval per hook, with the count of
repeats) and keeps being called.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = [
    "BreakerEvent",
    "ReloadEvent",
    "clear_hooks",
    "emit",
    "on_breaker_change",
    "on_reload",
]

logger = logging.getLogger("soajs.observability")

MAX_PENDING = 1000
MAX_HOOKS = 32
LOG_INTERVAL = 60.0


@dataclass(frozen=True, slots=True)
class ReloadEvent:
    """A registry load finished: ``ok``, in ``duration`` s; ``error`` its message when not ok.

    ``initial``: the first load, in ``RegistryManager.start()`` (else a poll or a reload).
    """

    service: str
    ok: bool
    duration: float
    error: str | None = None
    initial: bool = False


@dataclass(frozen=True, slots=True)
class BreakerEvent:
    """The breaker of ``target`` (``host:port``) went from ``previous`` to ``state``."""

    target: str
    label: str
    state: str
    previous: str


F = TypeVar("F", bound=Callable[..., Any])

_hooks: dict[type, list[Callable[[Any], Any]]] = {ReloadEvent: [], BreakerEvent: []}
_queue: queue.Queue[Any] = queue.Queue(MAX_PENDING)
_lock = threading.Lock()
_thread: threading.Thread | None = None
_dropped = 0
_last_drop_log = 0.0
_failures: dict[int, list[float]] = {}  # id(hook) -> [time of the last line, repeats]


def _add(kind: type, hook: F) -> F:
    if not callable(hook):
        raise TypeError(f"a hook must be callable, got {type(hook).__name__}")
    with _lock:
        if len(_hooks[kind]) >= MAX_HOOKS:
            raise ValueError(f"at most {MAX_HOOKS} hooks per event")
        _hooks[kind].append(hook)
    return hook


def on_reload(hook: F) -> F:
    """Call ``hook(ReloadEvent)`` after every registry load (ok or failed)."""
    return _add(ReloadEvent, hook)


def on_breaker_change(hook: F) -> F:
    """Call ``hook(BreakerEvent)`` when a circuit opens, half-opens or closes."""
    return _add(BreakerEvent, hook)


def clear_hooks() -> None:
    """Forget every hook (tests)."""
    with _lock:
        for hooks in _hooks.values():
            hooks.clear()


def emit(event: Any) -> None:
    """Queue ``event`` for its hooks; never blocks, never raises."""
    global _dropped, _last_drop_log, _thread
    if not _hooks.get(type(event)):
        return
    try:
        _queue.put_nowait(event)
    except queue.Full:
        now = time.monotonic()
        with _lock:
            _dropped += 1
            if now - _last_drop_log < LOG_INTERVAL:
                return
            dropped, _dropped, _last_drop_log = _dropped, 0, now
        logger.warning("%d hook event(s) dropped: the hooks are too slow", dropped)
        return
    if _thread is None or not _thread.is_alive():
        with _lock:
            if _thread is None or not _thread.is_alive():
                _thread = threading.Thread(target=_run, name="soajs-hooks", daemon=True)
                _thread.start()


def _run() -> None:
    events = _queue  # this process's queue (a forked child makes its own)
    while True:
        event = events.get()
        for hook in list(_hooks.get(type(event), ())):
            try:
                hook(event)
            except Exception as exc:
                _failed(hook, exc)


def _after_fork_in_child() -> None:
    # The hook thread did not survive the fork, and it may have held the queue's or
    # this module's lock at that instant: a child must not inherit them locked (its
    # first emit would hang the registry worker). Queued events stay the parent's.
    global _queue, _lock, _thread, _dropped
    _queue = queue.Queue(MAX_PENDING)
    _lock = threading.Lock()
    _thread = None
    _dropped = 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _failed(hook: Callable[[Any], Any], exc: Exception) -> None:
    now = time.monotonic()
    state = _failures.setdefault(id(hook), [0.0, 0.0])
    if state[0] and now - state[0] < LOG_INTERVAL:
        state[1] += 1
        return
    repeats, state[0], state[1] = int(state[1]), now, 0.0
    name = getattr(hook, "__qualname__", type(hook).__name__)
    more = f" ({repeats} more since the last line)" if repeats else ""
    logger.warning(
        "hook %s raised %s: %s%s; ignored",
        name,
        type(exc).__name__,
        str(exc)[:200],
        more,
        extra={"soajs_hook": name},
    )
