"""``apiList`` from a Flask app's ``url_map`` (see :mod:`soajs.apilist`)."""

from __future__ import annotations

import logging
from typing import Any

from soajs.apilist.common import ApiEntry, Collector, label_of

__all__ = ["discover", "is_flask"]

logger = logging.getLogger("soajs.apilist")


def is_flask(app: Any) -> bool:
    """A Flask app (an ``url_map`` and ``view_functions``)."""
    try:
        return hasattr(app.url_map, "iter_rules") and isinstance(app.view_functions, dict)
    except Exception:
        return False


def discover(app: Any) -> list[ApiEntry]:
    collector = Collector()
    for rule in app.url_map.iter_rules():
        endpoint = str(rule.endpoint)
        if endpoint == "static" or endpoint.endswith(".static"):
            continue
        view = app.view_functions.get(rule.endpoint)
        group = endpoint.split(".", 1)[0] if "." in endpoint else None
        label = label_of(None, view, endpoint.rsplit(".", 1)[-1])
        collector.add(str(rule.rule), rule.methods or (), label, group)
    return collector.result(logger, getattr(app, "name", "Flask app"))
