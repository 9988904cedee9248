"""Registry managers across ``fork()`` and interpreter exit.

After ``fork()`` (gunicorn/uwsgi ``--preload``) threads do not survive and
the parent's locks, events, futures and sockets must not be shared: each
manager of the child starts afresh, keeping its last good snapshot
(``RegistryManager._after_fork_in_child``). At exit, every worker thread is
told to stop (they are daemons: they never block the exit either way).
"""

from __future__ import annotations

import atexit
import os
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from soajs.registry.manager import RegistryManager

__all__ = ["track"]

_MANAGERS: weakref.WeakSet[RegistryManager] = weakref.WeakSet()


def track(manager: RegistryManager) -> None:
    """Include ``manager`` in the fork and exit hooks (weakly: it may be collected)."""
    _MANAGERS.add(manager)


def _after_fork_in_child() -> None:
    for manager in list(_MANAGERS):
        manager._after_fork_in_child()


def _stop_all_at_exit() -> None:
    for manager in list(_MANAGERS):
        manager._poller.stop.set()
        manager._poller.wake.set()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_stop_all_at_exit)
