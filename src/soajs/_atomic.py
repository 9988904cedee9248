"""Atomic, private writes of the small files workers share in the runtime directory."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["write_atomic"]


def write_atomic(path: Path, text: str) -> bool:
    """Write `text` to `path` atomically (mode 0600, never through a link).

    A temporary file beside it, named after this process, is written then
    renamed over `path`, so a reader sees the old or the new content, never a
    part. Returns `False` when it could not (disk full, no permission...);
    never raises `OSError`.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(tmp, flags, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        return False
    return True
