"""Sibling workers: a worker replaced during an outage starts degraded, not dead.

gunicorn ``-w N`` and ``uvicorn --workers N`` replace a worker that dies
(``--timeout``, OOM, ``--max-requests``). A replacement started while the
control plane is down used to fail its first load (the fail-fast default),
and the server stopped as a whole ("Worker failed to boot"; uvicorn: "failed
to start, stopping the parent process"), although the other workers served
with a good registry.

So every process that has a registry leaves a **mark** in the runtime
directory of the reload broadcast (``SOAJS_RUNTIME_DIR``, see
:mod:`soajs.registry.broadcast`): ``<env>-<service>[-<port>].<pid>.loaded``,
mode ``0600`` in a ``0700`` directory of this user, holding four numbers (its
pid, its parent's pid, when it loaded, its start time): no registry data. A
process whose *first* load fails looks for the mark of a **live sibling**: a
process of the same service instance (env, service, port) with the same
parent (the gunicorn master, the uvicorn supervisor) that is still running
(on Linux, the same start time too, so a reused pid does not count). Found:
the service is running on this host, so this worker starts degraded (one
WARNING), retries in the background and answers readiness 503 until it
loads. Not found: a genuine first start, which fails fast as before.

Bounds: one file per live process of the instance; marks of dead processes
(``kill -9`` leaves its mark behind) are removed by the next process that
marks, and a process removes its own when its manager stops or at exit. At
most :data:`MAX_SCAN` directory entries are looked at, and at most
:data:`MAX_MARK` bytes of each mark are read. The directory unusable: no
marks, and a first load that fails fails fast (the broadcast says why, once).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from pathlib import Path

from soajs._atomic import write_atomic

__all__ = ["SiblingMarks"]

#: Directory entries looked at, at most, per scan.
MAX_SCAN = 512
#: Bytes read, at most, of one mark.
MAX_MARK = 128

_SUFFIX = ".loaded"


def _proc_stat(pid: int) -> tuple[str, int, int] | None:
    """``(state, ppid, start time)`` of ``pid`` from ``/proc``; None when it has none."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read(1024)
    except OSError:
        return None
    fields = raw[raw.rfind(b")") + 2 :].split()
    try:
        return fields[0].decode(), int(fields[1]), int(fields[19])
    except (IndexError, ValueError):
        return None


def _start_time(pid: int) -> int:
    """Start time of ``pid`` in clock ticks since boot (Linux); 0 when unknown."""
    stat = _proc_stat(pid)
    return stat[2] if stat is not None else 0


def _alive(pid: int, ppid: int, started: int) -> bool:
    """``pid`` still runs, as a child of ``ppid`` (and, when known, started at ``started``)."""
    if Path("/proc/self/stat").exists():
        stat = _proc_stat(pid)
        if stat is None:
            return False
        state, parent, start = stat
        return state not in ("Z", "X") and parent == ppid and (not started or start == started)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: not a sibling
        return False
    return True


class SiblingMarks:
    """The marks of one service instance (``key``) in ``directory``; see the module docstring."""

    def __init__(self, directory: Path, key: str) -> None:
        self.directory = directory
        self.prefix = f"{key}."
        self._marked_pid: int | None = None  # the process whose mark is written

    def _path(self, pid: int) -> Path:
        return self.directory / f"{self.prefix}{pid}{_SUFFIX}"

    def _usable(self) -> bool:
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = self.directory.stat()
        except OSError:
            return False
        return not hasattr(os, "getuid") or info.st_uid == os.getuid()

    def mark(self) -> None:
        """This process has a good registry: say so (once per process). Never raises."""
        pid = os.getpid()
        if self._marked_pid == pid or not self._usable():
            return
        text = f"{pid} {os.getppid()} {time.time():.3f} {_start_time(pid)}\n"
        if not write_atomic(self._path(pid), text):
            return
        self._marked_pid = pid
        self._prune(pid)

    def clear(self) -> None:
        """Remove this process's mark (its manager stops, or the process exits)."""
        pid = os.getpid()
        if self._marked_pid != pid:
            return
        self._marked_pid = None
        with contextlib.suppress(OSError):
            self._path(pid).unlink()

    def forget_parent(self) -> None:
        """After ``fork()``: the mark written is the parent's, not this process's."""
        if self._marked_pid != os.getpid():
            self._marked_pid = None

    def live_sibling(self) -> int | None:
        """The pid of a live sibling with a good registry, or None."""
        me, parent = os.getpid(), os.getppid()
        for pid, ppid, started in self._marks():
            if pid != me and ppid == parent and _alive(pid, ppid, started):
                return pid
        return None

    def _marks(self) -> list[tuple[int, int, int]]:
        found: list[tuple[int, int, int]] = []
        try:
            with os.scandir(self.directory) as entries:
                for entry in itertools.islice(entries, MAX_SCAN):
                    if self._pid_of(entry.name) is None:
                        continue
                    mark = self._read(entry.path)
                    if mark is not None:
                        found.append(mark)
        except OSError:
            return []
        return found

    @staticmethod
    def _read(path: str) -> tuple[int, int, int] | None:
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            try:
                raw = os.read(fd, MAX_MARK)
            finally:
                os.close(fd)
            pid, ppid, _at, started = raw.split()[:4]
            return int(pid), int(ppid), int(started)
        except (OSError, ValueError):
            return None

    def _prune(self, me: int) -> None:
        """Remove the marks of processes that are gone (``kill -9`` leaves one)."""
        for name in self._names():
            if self._pid_of(name) in (None, me):
                continue
            mark = self._read(str(self.directory / name))
            if mark is None or not _alive(mark[0], mark[1], mark[2]):
                with contextlib.suppress(OSError):
                    (self.directory / name).unlink()

    def _pid_of(self, name: str) -> int | None:
        """The pid in the name of a mark of this instance (``<key>.<pid>.loaded``), else None."""
        if not (name.startswith(self.prefix) and name.endswith(_SUFFIX)):
            return None
        middle = name[len(self.prefix) : -len(_SUFFIX)]
        return int(middle) if middle.isdigit() else None

    def _names(self) -> list[str]:
        try:
            with os.scandir(self.directory) as entries:
                return [
                    e.name
                    for e in itertools.islice(entries, MAX_SCAN)
                    if self._pid_of(e.name) is not None
                ]
        except OSError:
            return []
