"""Flask extension: ``SOAJS(app, registry)`` or ``SOAJS().init_app(app, registry)``.

Installs :class:`~soajs.middleware.SOAJSWSGIMiddleware` on ``app.wsgi_app``
and exposes the context as ``flask.g.soajs`` (also ``get_soajs_context(request)``).
"""

from __future__ import annotations

from typing import Any, Unpack

from flask import Flask, g, request

from soajs.middleware.accessors import ENVIRON_KEY
from soajs.middleware.core import MiddlewareOptions
from soajs.middleware.wsgi import SOAJSWSGIMiddleware

__all__ = ["SOAJS"]


class SOAJS:
    """The Flask extension."""

    def __init__(
        self, app: Flask | None = None, registry: Any = None, **options: Unpack[MiddlewareOptions]
    ) -> None:
        self.registry = registry
        self.options = options
        self.middleware: SOAJSWSGIMiddleware | None = None
        if app is not None:
            self.init_app(app)

    def init_app(
        self, app: Flask, registry: Any = None, **options: Unpack[MiddlewareOptions]
    ) -> None:
        """Install the middleware on ``app`` (arguments override the constructor's)."""
        merged: Any = {**self.options, **options}
        self.middleware = SOAJSWSGIMiddleware(app.wsgi_app, registry or self.registry, **merged)
        app.wsgi_app = self.middleware  # type: ignore[method-assign]
        # first of the app's hooks: the ones registered earlier (audit, login...) see it too
        app.before_request_funcs.setdefault(None, []).insert(0, _expose_on_g)
        app.extensions["soajs"] = self


def _expose_on_g() -> None:
    g.soajs = request.environ.get(ENVIRON_KEY)
