"""Reload broadcast: a reload asked of one worker reaches every worker of the host.

``/reloadRegistry`` reaches one process (gunicorn ``-w N``, uvicorn
``--workers N``: the kernel hands the connection to one of them). That
process *announces* the reload by replacing a small stamp file; every
process of the same service watches the file's ``stat`` from its registry
worker thread (at most once a second, no read, no lock) and, when it
changed, asks for a coalesced, rate-limited reload of its own.

One file per service instance of the host: ``<dir>/<env>-<service>[-<port>].reload``
(the port is the service's, from its :class:`~soajs.Config`, so two
instances of one service on two ports do not reload each other). Nothing
else is written; the file is replaced atomically (a temporary file of the
announcing process, renamed over it), so the directory holds at most one
file per service plus one temporary per announcing process for an instant.

The directory is ``SOAJS_RUNTIME_DIR``, else ``$XDG_RUNTIME_DIR/soajs``, else
``<tmp>/soajs-<uid>``; it is created ``0700`` and must belong to this user.
Missing, not writable, read-only file system, someone else's: the broadcast
turns itself off with one WARNING, and reloads reach one process, as before.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
import time
from pathlib import Path

__all__ = ["ReloadBroadcast", "default_runtime_dir", "instance_key"]

logger = logging.getLogger("soajs.registry")

#: Seconds between two looks at the stamp file.
CHECK_INTERVAL = 1.0

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def default_runtime_dir() -> Path:
    """Where stamp files live when ``SOAJS_RUNTIME_DIR`` is not set."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        return Path(xdg) / "soajs"
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"soajs-{uid}"


Signature = tuple[int, int, int]


def instance_key(env: str, service: str, port: int | None) -> str:
    """``<env>-<service>[-<port>]``, safe as a file name: one service instance of the host."""
    name = "-".join([env, service] + ([str(port)] if port else []))
    return _UNSAFE.sub("_", name)


class ReloadBroadcast:
    """The stamp file of one service instance; see the module docstring."""

    def __init__(self, directory: Path, env: str, service: str, port: int | None) -> None:
        self.path = directory / f"{instance_key(env, service, port)}.reload"
        self.enabled = True
        self._seen: Signature | None = None
        self._next_check = 0.0
        self._ready = False

    def _prepare(self) -> bool:
        """Create the directory (0700) once; False (and disabled, one WARNING) when impossible."""
        if self._ready:
            return True
        directory = self.path.parent
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = directory.stat()
            if hasattr(os, "getuid") and info.st_uid != os.getuid():
                raise PermissionError(f"{directory} belongs to another user (uid {info.st_uid})")
            if not os.access(directory, os.W_OK | os.X_OK):
                raise PermissionError(f"{directory} is not writable")
        except OSError as exc:
            self._disable(exc)
            return False
        self._ready = True
        self._seen = self._signature()
        return True

    def _disable(self, exc: BaseException) -> None:
        self.enabled = False
        logger.warning(
            "reload broadcast off (%s): a /reloadRegistry reaches only the process that "
            "received it; set SOAJS_RUNTIME_DIR to a writable directory to turn it on",
            exc,
        )

    def _signature(self) -> Signature | None:
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return None
        return (info.st_ino, info.st_mtime_ns, info.st_size)

    def start(self) -> None:
        """Take the current stamp as seen (an old announcement is not replayed)."""
        if self.enabled:
            self._prepare()

    def announce(self) -> None:
        """Tell the other processes to reload. Call from the worker thread."""
        if not self.enabled or not self._prepare():
            return
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        try:
            tmp.write_bytes(f"{time.time_ns()} {os.getpid()}\n".encode())
            os.replace(tmp, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            self._disable(exc)
            return
        self._seen = self._signature()  # our own announcement is not news to us

    def due(self) -> float:
        """Monotonic time of the next look (``inf`` when off)."""
        return self._next_check if self.enabled else float("inf")

    def changed(self) -> bool:
        """One ``stat``: True when another process announced since the last look."""
        self._next_check = time.monotonic() + CHECK_INTERVAL
        if not self.enabled or not self._prepare():
            return False
        try:
            signature = self._signature()
        except OSError as exc:
            self._disable(exc)
            return False
        if signature == self._seen:
            return False
        self._seen = signature
        return signature is not None
