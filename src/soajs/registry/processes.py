"""Registry managers across ``fork()`` and interpreter exit.

After ``fork()`` (gunicorn/uwsgi ``--preload``) threads do not survive and
the parent's locks, events, futures and sockets must not be shared: each
manager of the child starts afresh, keeping its last good snapshot
(``RegistryManager._after_fork_in_child``). At exit, every worker thread is
told to stop (they are daemons: they never block the exit either way).

A process that forks before serving any request (a ``--preload`` master, see
:mod:`soajs.workers`) polls no more: its workers do. Each worker forked from
it asks the control plane at once (the master's snapshot may be hours old
when gunicorn replaces a worker), and the master polls again only if it
serves a request itself.
"""

from __future__ import annotations

import atexit
import os
import weakref
from typing import TYPE_CHECKING

from soajs import workers

if TYPE_CHECKING:
    from soajs.registry.manager import RegistryManager

__all__ = ["serves_requests", "track"]

_MANAGERS: weakref.WeakSet[RegistryManager] = weakref.WeakSet()


class _HandOff:
    """The manager's part in :mod:`soajs.workers`' pre-fork hand-off."""

    def __init__(self, manager: RegistryManager) -> None:
        self._manager = weakref.ref(manager)

    def hand_off(self) -> None:
        manager = self._manager()
        if manager is not None:
            manager._poller.wake.set()  # the worker sees it polls no more
            manager._registration.release()  # a worker registers for the host instead

    def after_fork_in_child(self, start: bool) -> None:
        manager = self._manager()
        if manager is None or not start:
            return
        poller = manager._poller  # the child's own (see _after_fork_in_child)
        poller.next_poll = 0.0  # forked from a master that stopped polling: ask now
        poller.wake.set()

    def take_back(self) -> None:
        manager = self._manager()
        if manager is None:
            return
        with manager._state_lock:
            if manager._started and not manager._stopped and manager._poller.polling:
                manager._poller.next_poll = 0.0
                manager._poller.ensure_thread()
        manager._poller.wake.set()


def track(manager: RegistryManager) -> None:
    """Include ``manager`` in the fork and exit hooks (weakly: it may be collected)."""
    _MANAGERS.add(manager)


def serves_requests(manager: RegistryManager) -> None:
    """``manager`` is the registry of a web app (a SOAJS middleware was built on it):
    it takes part in the pre-fork hand-off. A manager used outside any web app (a
    script, a daemon) keeps polling in a process that forks."""
    if manager._handoff is not None:
        return
    handoff = _HandOff(manager)
    manager._handoff = handoff  # workers holds it weakly: the manager keeps it alive
    manager._poller.follows_workers = True
    workers.register(handoff)


def _after_fork_in_child() -> None:
    for manager in list(_MANAGERS):
        manager._after_fork_in_child()


def _stop_all_at_exit() -> None:
    for manager in list(_MANAGERS):
        manager._poller.stop.set()
        manager._poller.wake.set()
        manager._marks.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_stop_all_at_exit)
