"""One registration per host: the process holding the host's lock registers.

Under ``gunicorn -w N`` or ``uvicorn --workers N`` every worker builds its own
registry manager; the gateway must see one ``POST /register`` per host (per
service instance), not N. The workers of one instance share the runtime
directory of the reload broadcast (:mod:`soajs.registry.broadcast`); the one
that holds a POSIX record lock (``fcntl.lockf``) on
``<env>-<service>[-<port>]-<ip>.register`` registers, the others do not. The lock
belongs to a process: a forked child does not inherit it, and it is released
by the kernel when its holder exits, however it exits; the next poll of a
sibling takes it over and registers at once. A ``--preload`` master that
handed its work to the workers (:func:`soajs.workers.handed_off`) lets go.

Record locks belong to the process, not to the file descriptor: two managers
of one instance in one process would both "hold" it (and either closing its
descriptor drops the other's lock). A table of this process's holders gives
the lock to one manager; a stopped one hands it to the next that asks.
Where locks are unavailable (no ``fcntl``, a read-only directory) every
process registers, as before: the gateway deduplicates hosts by IP.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from soajs import workers

__all__ = ["HostElection"]

logger = logging.getLogger("soajs.registry")

#: This process's holders, by lock file (record locks are per process, see above).
_held: dict[str, HostElection] = {}
_held_lock = threading.Lock()


def _forget_held() -> None:  # in a forked child: it holds none of its parent's locks
    global _held_lock
    _held.clear()
    _held_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_held)


class HostElection:
    """Whether this process is the one of its host that registers. Never raises."""

    def __init__(self, directory: Path, key: str, alive: Callable[[], bool] | None = None) -> None:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in key)[:200]
        self.path = directory / f"{safe}.register"
        self._alive = alive or (lambda: True)  # False once its manager stopped
        self._fd: int | None = None
        self._pid = os.getpid()
        self._unavailable = False
        self._lock = threading.Lock()  # the poller and the middleware may ask at once
        #: Set when this process took the lock since the last :meth:`take_news`.
        self._won = False

    def holds(self) -> bool:
        """True when this process registers for the host (tries to take the lock)."""
        if os.getpid() != self._pid:
            self._after_fork()  # first: a lock held at fork time stays held in the child
        with self._lock:  # local file operations only, never the network
            return self._holds()

    def _holds(self) -> bool:
        if workers.handed_off():
            self.release()
            return False
        if self._unavailable:
            return True
        if self._fd is not None:
            return True
        with _held_lock:  # local file operations only
            return self._take()

    def _take(self) -> bool:
        other = _held.get(str(self.path))
        if other is not None and other is not self:
            if _still_alive(other):
                return False  # another manager of this process registers
            self._fd, other._fd = other._fd, None  # a stopped one: its lock, as it is
            _held[str(self.path)] = self
            self._won = self._fd is not None
            return self._won
        try:
            import fcntl

            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except (ImportError, OSError) as exc:
            logger.debug("host registration lock unavailable (%s): this process registers", exc)
            self._unavailable = True
            return True
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        self._won = True
        _held[str(self.path)] = self
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
        return True

    def take_news(self) -> bool:
        """True once after this process took the lock (register now)."""
        won, self._won = self._won, False
        return won

    def release(self) -> None:
        """Close the lock file: the kernel drops the record lock (a sibling takes it)."""
        with _held_lock:
            if _held.get(str(self.path)) is self:
                del _held[str(self.path)]
            fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)  # closing releases the record lock

    def _after_fork(self) -> None:
        self._lock = threading.Lock()
        # The child does not hold its parent's record lock; its copy of the fd
        # must not be closed via lockf(LOCK_UN) (that is the parent's lock):
        # a plain close() in the child releases only the child's locks (none).
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._pid = os.getpid()
        self._won = False


def _still_alive(election: HostElection) -> bool:
    try:
        return bool(election._alive())
    except Exception:
        return True  # cannot tell: keep the holder
