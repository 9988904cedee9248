"""What every framework's route walker shares: the entry shape and its bounds."""

from __future__ import annotations

import re
from typing import Any, TypedDict

__all__ = [
    "MAX_DEPTH",
    "MAX_ENTRIES",
    "MAX_GROUP",
    "MAX_LABEL",
    "MAX_PATH",
    "METHODS",
    "ApiEntry",
    "Collector",
    "label_of",
]

#: Entries in one ``apiList``, at most (the rest is dropped, with a WARNING).
MAX_ENTRIES = 1000
#: Characters of a label (``l``) or group kept.
MAX_LABEL = 200
MAX_GROUP = 100
#: Paths longer than this are skipped.
MAX_PATH = 1000
#: Nesting of mounts, includes and wrapping middlewares walked.
MAX_DEPTH = 16
#: Methods listed (HEAD and OPTIONS are answered by the server itself).
METHODS = ("get", "post", "put", "delete", "patch")


class ApiEntry(TypedDict, total=False):
    l: str  # noqa: E741 - the wire name
    v: str
    m: str
    group: str
    groupMain: bool


def _cut(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def label_of(summary: Any, endpoint: Any, name: Any) -> str:
    """The label: a summary, else the docstring's first line, else the name."""
    if isinstance(summary, str) and summary.strip():
        return _cut(summary, MAX_LABEL)
    doc = getattr(endpoint, "__doc__", None)
    if isinstance(doc, str) and doc.strip():
        return _cut(doc.strip().splitlines()[0], MAX_LABEL)
    if isinstance(name, str) and name.strip():
        return _cut(name.replace("_", " "), MAX_LABEL)
    return "No label"


# Starlette/FastAPI write the name first (``{id:int}``, ``{p:path}``); Flask/werkzeug and
# Django the converter first (``<int:id>``, ``<string(length=2):code>``).
_PARAM = re.compile(
    r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[^}]*)?\}"
    r"|<(?:[A-Za-z_][A-Za-z0-9_]*(?:\([^)>]*\))?:)?([A-Za-z_][A-Za-z0-9_]*)>"
)


def express_path(path: str) -> str:
    """``/items/{id}``, ``/items/<int:id>`` -> ``/items/:id`` (the Node syntax)."""
    out = _PARAM.sub(lambda m: ":" + (m.group(1) or m.group(2)), path)
    return out if out.startswith("/") else "/" + out


class Collector:
    """Accumulates entries within the bounds; duplicates (same path and method) once."""

    def __init__(self) -> None:
        self.entries: list[ApiEntry] = []
        self.dropped = 0
        self._seen: set[tuple[str, str]] = set()

    def add(self, path: str, methods: Any, label: str, group: Any = None) -> None:
        if len(path) > MAX_PATH:
            self.dropped += 1
            return
        v = express_path(path)
        for method in sorted({str(m).lower() for m in methods}):
            if method not in METHODS or (v, method) in self._seen:
                continue
            if len(self.entries) >= MAX_ENTRIES:
                self.dropped += 1
                continue
            self._seen.add((v, method))
            entry: ApiEntry = {"l": label, "v": v, "m": method}
            if isinstance(group, str) and group.strip():
                entry["group"] = _cut(group, MAX_GROUP)
            self.entries.append(entry)

    def result(self, logger: Any, what: str) -> list[ApiEntry]:
        if self.dropped:
            logger.warning(
                "apiList of %s: %d route(s) left out (more than %d entries, or a path longer "
                "than %d characters); give Config(apiList=[...]) to list them yourself",
                what,
                self.dropped,
                MAX_ENTRIES,
                MAX_PATH,
            )
        return self.entries
