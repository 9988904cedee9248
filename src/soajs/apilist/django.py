"""``apiList`` from Django's URL resolver (see :mod:`soajs.apilist`).

Route patterns (``path()``) keep their converters' names (``<int:pk>`` ->
``:pk``); regex patterns (``re_path()``) become ``:name`` for each named group
and are skipped when anything else regex-like remains. Class-based views list
the methods they define; function views are listed as ``get`` (give
``Config(apiList=...)`` for precision). ``admin`` is skipped.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from soajs.apilist.common import MAX_DEPTH, METHODS, ApiEntry, Collector, label_of

__all__ = ["discover"]

logger = logging.getLogger("soajs.apilist")

_GROUP = re.compile(r"\(\?P<([A-Za-z_][A-Za-z0-9_]*)>[^)]*\)")
_REGEX_LEFT = re.compile(r"[\\^$()*+?|\[\]{}]")


def discover() -> list[ApiEntry]:
    from django.urls import get_resolver

    collector = Collector()
    _walk(get_resolver().url_patterns, "/", collector, 0)
    return collector.result(logger, "the Django URLconf")


def _pattern_text(pattern: Any) -> str | None:
    regex = getattr(pattern, "_regex", None)
    route = getattr(pattern, "_route", None)
    if isinstance(route, str):
        return route
    if isinstance(regex, str):
        text = _GROUP.sub(lambda m: ":" + m.group(1), regex)
        text = text.removeprefix("^").removesuffix("$").removesuffix("\\Z")
        return None if _REGEX_LEFT.search(text) else text
    return None


def _methods(callback: Any) -> list[str]:
    view_class = getattr(callback, "view_class", None)
    if view_class is None:
        return ["get"]
    allowed = getattr(view_class, "http_method_names", METHODS)
    return [m for m in METHODS if m in allowed and callable(getattr(view_class, m, None))]


def _walk(patterns: Any, prefix: str, collector: Collector, depth: int) -> None:
    if depth >= MAX_DEPTH:
        return
    for entry in list(patterns):
        text = _pattern_text(getattr(entry, "pattern", None))
        if text is None:
            continue
        sub = getattr(entry, "url_patterns", None)
        if sub is not None:  # an include()
            if (
                getattr(entry, "namespace", None) == "admin"
                or getattr(entry, "app_name", None) == "admin"
            ):
                continue
            _walk(sub, prefix + text, collector, depth + 1)
            continue
        callback = getattr(entry, "callback", None)
        if callback is None:
            continue
        view = getattr(callback, "view_class", callback)
        name = getattr(entry, "name", None) or getattr(view, "__name__", None)
        label = label_of(None, view, name)
        collector.add(prefix + text, _methods(callback), label)
