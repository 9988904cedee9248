"""``apiList``: the app's own routes, as the gateway stores them in the marketplace.

One entry per API and method: ``{"l": label, "v": path, "m": method}``
plus ``group`` (and ``groupMain``) when known, the shape the Node framework
builds from its schema (``utils.extractAPIsList``): ``v`` is the path in
Express syntax (``/items/:id``), ``m`` the lower-case method.

* FastAPI/Starlette (:mod:`soajs.apilist.starlette`): the route table; ``l`` is
  the route's summary, else the first line of the endpoint's docstring, else
  its name; ``group`` its first tag. HEAD/OPTIONS, routes left out of the
  schema (``/docs``, ``/openapi.json``...) and static mounts are skipped;
  routers and sub-apps mounted are walked with their prefix.
* Flask (:mod:`soajs.apilist.flask`): ``url_map`` (``static`` skipped); ``group``
  is the blueprint.
* Django (:mod:`soajs.apilist.django`): the URL resolver, walked; class-based
  views give their handlers' methods, function views ``get``; the admin is skipped.

An ``apiList`` given in :class:`~soajs.Config` wins: nothing is discovered.
Bounded: at most :data:`MAX_ENTRIES` entries, labels cut at
:data:`MAX_LABEL`, paths longer than :data:`MAX_PATH` skipped, the walk
at most :data:`MAX_DEPTH` levels deep.
"""

from __future__ import annotations

import logging
from typing import Any

from soajs.apilist.common import MAX_DEPTH, MAX_ENTRIES, MAX_LABEL, MAX_PATH, ApiEntry

__all__ = [
    "MAX_DEPTH",
    "MAX_ENTRIES",
    "MAX_LABEL",
    "MAX_PATH",
    "ApiEntry",
    "announce",
    "discover",
]

logger = logging.getLogger("soajs.apilist")


def discover(app: Any) -> list[ApiEntry] | None:
    """The ``apiList`` of ``app`` (a Starlette/FastAPI app or router, a Flask app,
    a middleware wrapping one, or ``"django"``), or ``None`` when it is not known."""
    from soajs.apilist import flask, starlette

    if app == "django":
        from soajs.apilist import django

        return django.discover()
    target = app
    for _ in range(MAX_DEPTH):  # walk through wrapping middlewares
        if target is None:
            return None
        if flask.is_flask(target):
            return flask.discover(target)
        if starlette.has_routes(target):
            return starlette.discover(target)
        target = (
            getattr(target, "__self__", None)
            or getattr(target, "wsgi_app", None)
            or getattr(target, "app", None)
        )
    return None


def announce(registry: Any, app: Any) -> None:
    """Give ``registry`` the routes of ``app`` for its ``apiList``. Never raises.

    The routes are read again for every registration body (a Flask app
    declares its routes after the extension is set up).

    Nothing is done when the registry's Config has an ``apiList`` of its own.
    """
    setter = getattr(registry, "set_api_list", None)
    if setter is None:
        return
    config = getattr(registry, "config", None)
    if config is not None and "apiList" in (config.model_extra or {}):
        return
    try:
        entries = discover(app)
    except Exception as exc:  # a route table we do not understand: no apiList
        logger.warning("apiList not built from the app's routes (%s: %s)",
                       type(exc).__name__, exc)  # fmt: skip
        return
    if entries is None:
        return
    try:  # read again at each registration: routes declared after the middleware count
        setter(lambda: discover(app))
    except Exception as exc:
        logger.warning("apiList not handed to the registry (%s: %s)", type(exc).__name__, exc)
