"""Which process serves requests: the pre-fork hand-off of per-process services.

A pre-forking server started with ``--preload`` (gunicorn, uwsgi) imports the
app in a master process that forks the workers and never serves a request.
Anything the app starts at import time (the maintenance listener, a registry
poller) would then run in that master and answer for it: with every worker
stopped, health stayed green.

The rule here: a process that forks **before it has served a request** hands
its per-process services to its children. Before the fork it pauses them
(the listener closes its socket, so a child can bind it); each child started
from it starts its own; the process takes them back only if it serves a
request itself later. A process that has served requests keeps its services
when it forks, and its children (a ``multiprocessing`` helper, say) get none.

A fork made by ``multiprocessing`` (a pool, a ``Process``) or by
``socketserver``'s fork-per-request starts helpers, not workers: it never
hands anything off.

The middlewares call :func:`mark_serving` on their first request. A service
that wants this behaviour implements :class:`ForkAware` and calls
:func:`register` (held weakly). :func:`handed_off` tells any code whether this
process is such a master (the registry poller can check it).
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
import weakref
from collections.abc import Callable
from typing import Protocol

__all__ = ["ForkAware", "handed_off", "mark_serving", "register", "serving"]

logger = logging.getLogger("soajs.workers")


class ForkAware(Protocol):
    """What a per-process service does around ``fork()``."""

    def hand_off(self) -> None:
        """Before a fork, in a process that has served no request: stop serving."""

    def after_fork_in_child(self, start: bool) -> None:
        """In the child: forget the parent's threads and sockets; start afresh if ``start``."""

    def take_back(self) -> None:
        """A process that handed off serves a request after all: start again."""


_SERVICES: weakref.WeakSet[ForkAware] = weakref.WeakSet()
_lock = threading.Lock()
_serving = False
_handed_off = False
_handing_off_now = False


def register(service: ForkAware) -> None:
    """Take part in the hand-off (held weakly: nothing to unregister)."""
    with _lock:
        _SERVICES.add(service)


def serving() -> bool:
    """True once this process has served a request (through a SOAJS middleware)."""
    return _serving


def handed_off() -> bool:
    """True in a process that forked before serving a request (a ``--preload`` master)."""
    return _handed_off


def mark_serving() -> None:
    """The middlewares call this on a process's first request."""
    global _serving, _handed_off
    if _serving:
        return
    with _lock:
        if _serving:
            return
        _serving = True
        took_back = _handed_off
        _handed_off = False
        services = list(_SERVICES)
    if took_back:
        logger.info("process %d serves requests after all: taking back its services", os.getpid())
        for service in services:
            _call(service.take_back, "take_back")


#: Forks made by these modules start helpers, not long-lived workers: a pool, a
#: Process, or socketserver's fork-per-request (werkzeug ``processes=N``).
_HELPERS = ("multiprocessing", "concurrent.futures", "socketserver")


def _forked_by_helper() -> bool:
    """True when a helper module (:data:`_HELPERS`) is the one forking."""
    try:
        frame = sys._getframe(2)  # whoever called os.fork()
    except ValueError:
        return False
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if isinstance(name, str) and name.startswith(_HELPERS):
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


def _before_fork() -> None:
    global _handed_off, _handing_off_now
    _handing_off_now = not _serving and not _forked_by_helper()
    if not _handing_off_now:
        return
    first = not _handed_off
    _handed_off = True
    for service in list(_SERVICES):
        _call(service.hand_off, "hand_off")
    if first:
        logger.info(
            "process %d forks before serving a request (a --preload master): its workers "
            "run the maintenance listener",
            os.getpid(),
        )


def _after_fork_in_child() -> None:
    global _lock, _serving, _handed_off, _handing_off_now
    _lock = threading.Lock()
    start = _handing_off_now
    _serving = False
    _handed_off = False
    _handing_off_now = False
    for service in list(_SERVICES):
        _call(functools.partial(service.after_fork_in_child, start), "after_fork_in_child")


def _after_fork_in_parent() -> None:
    global _handing_off_now
    _handing_off_now = False


def _call(action: Callable[[], object], what: str) -> None:
    try:
        action()
    except Exception:  # a fork hook must never break the fork
        logger.exception("soajs fork hook %s failed", what)


os.register_at_fork(
    before=_before_fork,
    after_in_parent=_after_fork_in_parent,
    after_in_child=_after_fork_in_child,
)
