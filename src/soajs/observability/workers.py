"""Several workers, one ``/metrics``: each worker publishes its counts to a file.

Under gunicorn ``-w N`` or ``uvicorn --workers N`` one worker holds the
maintenance port and answers ``/metrics``, but every worker counts its own
requests. So every worker that serves requests writes its families (plain
JSON, no registry data) to ``<runtime dir>/metrics/<key>.<ppid>.<pid>.json``
every `PUBLISH_INTERVAL` seconds (``SOAJS_METRICS_PUBLISH_INTERVAL``,
5 s by default) and at exit; ``<key>`` is the service instance (env,
service, port: `soajs.registry.broadcast.instance_key`) and ``<ppid>``
the server's master, so unrelated servers on one host never mix.

The process that answers sums its own live counts with the files of its
live siblings (same instance, same parent; on Linux the same start time, so
a reused pid does not count). A sibling that is gone (replaced by
``--max-requests``, killed) leaves its last counts behind: they are folded
into ``<key>.<ppid>.retired.json`` (counters and histograms only; its gauges
die with it) so the sums never go down while the master lives. A
``kill -9`` loses at most the counts of its last interval.

Bounds: at most `MAX_SCAN` directory entries (files of gone masters, any
service, are removed: `MAX_PRUNE` a scrape), `MAX_FILE` bytes
per file, 0600 files in a 0700 directory of this user; a directory that
cannot be used means this process reports only its own counts.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import itertools
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from soajs._atomic import write_atomic
from soajs.observability import counters, families
from soajs.registry.broadcast import default_runtime_dir
from soajs.registry.siblings import _alive, _start_time

__all__ = ["PUBLISH_INTERVAL", "aggregate", "publish_now", "serving"]

logger = logging.getLogger("soajs.observability")

#: Directory entries looked at per scrape (names only; only this instance's files are read).
MAX_SCAN = 4096
#: Files of gone servers (any service) removed per scrape, so a shared directory stays small.
MAX_PRUNE = 512
MAX_FILE = 4 * 1024 * 1024
#: Seconds a scrape waits for the directory's lock (held only while files are read).
LOCK_WAIT = 2.0


def _interval() -> float:
    raw = os.environ.get("SOAJS_METRICS_PUBLISH_INTERVAL", "5")
    try:
        value = float(raw)
    except ValueError:
        return 5.0
    return min(60.0, max(0.5, value)) if value == value else 5.0


#: Seconds between two publications of a worker's counts (0.5 to 60).
PUBLISH_INTERVAL = _interval()

_lock = threading.Lock()
_publisher_pid: int | None = None
_stop = threading.Event()


def _directory() -> Path:
    # SOAJS_RUNTIME_DIR (or the default) of the environment, which every worker shares
    root = os.environ.get("SOAJS_RUNTIME_DIR")
    return (Path(root) if root else default_runtime_dir()) / "metrics"


def _key() -> str:
    for manager in families._members(counters.managers):
        key = getattr(manager, "_instance_key", None)
        if callable(key):
            with contextlib.suppress(Exception):
                return str(key())
    return "app"


_unusable: set[str] = set()  # directories already said to be unusable (bounded below)


def _usable(directory: Path) -> bool:
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = directory.stat()
        problem = None
        if hasattr(os, "getuid") and info.st_uid != os.getuid():
            problem = "owned by another user"
    except OSError as exc:
        problem = f"{type(exc).__name__}: {exc.strerror or exc}"
    if problem is None:
        return True
    if str(directory) not in _unusable and len(_unusable) < 16:  # once per directory
        _unusable.add(str(directory))
        logger.warning(
            "metrics directory %s unusable (%s): this process reports only its own "
            "counts, the other workers' are missing from /metrics (set SOAJS_RUNTIME_DIR)",
            directory,
            problem,
            extra={"soajs_event": "metrics_dir_unusable"},
        )
    return False


def _write(path: Path, data: dict[str, Any]) -> bool:
    """Write `data` to `path` atomically; `False` when it could not (disk full...)."""
    return write_atomic(path, json.dumps(data, separators=(",", ":")))


def _read(path: Path) -> Any:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        try:
            raw = os.read(fd, MAX_FILE + 1)
        finally:
            os.close(fd)
        if len(raw) > MAX_FILE:
            return None
        return json.loads(raw)
    except (OSError, ValueError):
        return None


def publish_now() -> None:
    """Write this process's counts now (the publisher thread, exit, tests). Never raises."""
    directory = _directory()
    if not _usable(directory):
        return
    pid = os.getpid()
    data = families.to_json(families.local())
    data.update(pid=pid, ppid=os.getppid(), started=_start_time(pid))
    _write(directory / f"{_key()}.{os.getppid()}.{pid}.json", data)


def _run(pid: int) -> None:
    while not _stop.wait(PUBLISH_INTERVAL):
        if os.getpid() != pid:
            return
        try:
            publish_now()
        except Exception:  # a bug must not end the process's reporting silently
            logger.exception("publishing this worker's metrics failed")


def serving() -> None:
    """This process serves requests: publish its counts for the one answering ``/metrics``."""
    global _publisher_pid
    pid = os.getpid()
    if not counters.ENABLED or _publisher_pid == pid:
        return
    with _lock:
        if _publisher_pid == pid:
            return
        _publisher_pid = pid
    threading.Thread(target=_run, args=(pid,), name="soajs-publish-counts", daemon=True).start()


def _after_fork_in_child() -> None:
    # the parent's publisher thread is not here, and its locks may have been held
    global _lock, _stop
    _lock = threading.Lock()
    _stop = threading.Event()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


@atexit.register
def _at_exit() -> None:
    if _publisher_pid == os.getpid():
        _stop.set()
        with contextlib.suppress(Exception):
            publish_now()


def aggregate() -> families.Families:
    """This process's families plus its live siblings' and the retired ones' counts."""
    fams = families.local()
    if not counters.ENABLED:
        return fams
    directory = _directory()
    if not _usable(directory):
        return fams
    me, ppid = os.getpid(), os.getppid()
    prefix = f"{_key()}.{ppid}."
    try:
        with open(directory / f"{prefix}lock", "a") as lock:
            # a sibling that stopped while holding the lock must not stop this answer:
            # past LOCK_WAIT, read without it and leave the retiring to a later scrape
            locked = _flock(lock.fileno())
            _gather(directory, prefix, me, ppid, fams, retire=locked)
    except OSError:
        return fams
    return fams


def _flock(fd: int) -> bool:
    end = time.monotonic() + LOCK_WAIT
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= end:
                return False
            time.sleep(0.01)


def _gather(
    directory: Path, prefix: str, me: int, ppid: int, fams: families.Families, *, retire: bool
) -> None:
    retired_path = directory / f"{prefix}retired.json"
    retired = families.from_json(_read(retired_path))
    gone: list[Path] = []
    with os.scandir(directory) as entries:
        names = [e.name for e in itertools.islice(entries, MAX_SCAN)]
    if retire:
        _prune_gone_masters(directory, prefix, names)
    for name in names:
        if not (name.startswith(prefix) and name.endswith(".json")):
            continue
        middle = name[len(prefix) : -len(".json")]
        if not middle.isdigit() or len(middle) > 10 or int(middle) == me:
            continue
        path = directory / name
        data = _read(path)
        if not isinstance(data, dict):
            continue
        started = data.get("started")
        alive = _alive(int(middle), ppid, started if isinstance(started, int) else 0)
        worker = families.from_json(data)
        if alive:
            families.merge(fams, worker)
        else:
            families.merge(retired, worker, counts_only=True)
            gone.append(path)
    # a gone worker's file goes only once its counts are safe in the retired file
    # (a full disk keeps it: read again next scrape, the sums never go down)
    if gone and retire and _write(retired_path, families.to_json(retired)):
        for path in gone:
            with contextlib.suppress(OSError):
                path.unlink()
    families.merge(fams, retired, counts_only=True)


def _prune_gone_masters(directory: Path, prefix: str, names: list[str]) -> None:
    """Remove the files of earlier runs, of this service instance or any other: those
    whose master (``<key>.<master>.<pid|retired>.json``, ``<key>.<master>.lock``) is
    gone. At most `MAX_PRUNE` per call."""
    masters: dict[str, bool] = {}
    pruned = 0
    for name in names:
        if name.startswith((prefix, ".")):
            continue
        parts = name.split(".")
        if name.endswith(".json") and len(parts) >= 4:
            master = parts[-3]
        elif name.endswith(".lock") and len(parts) >= 3:
            master = parts[-2]
        else:
            continue
        if not master.isdigit() or len(master) > 10:  # a pid, not a name someone left there
            continue
        if master not in masters:
            masters[master] = _running(int(master))
        if masters[master]:
            continue
        with contextlib.suppress(OSError):
            (directory / name).unlink()
        pruned += 1
        if pruned >= MAX_PRUNE:
            return


def _running(pid: int) -> bool:
    if pid <= 1:
        return True  # never signal a process group or init: keep the files
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):
        return True
    return True
