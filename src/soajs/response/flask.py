"""The envelope for Flask: ``install_handlers(app, config)``.

>>> install_handlers(app, registry, unhandled=True)  # doctest: +SKIP

Registers error handlers (``app.register_error_handler``) for
:class:`~soajs.response.SoajsError` and
:class:`~soajs.connector.ConnectorError`; ``unhandled=True`` adds one for
any other exception (500, code 164, logged once with its traceback; a
werkzeug ``HTTPException`` such as 404 keeps its own answer) and
``validation=True`` one for ``pydantic.ValidationError`` raised by a view
(400, code 173). ``source`` gives the ``errors`` map, as for
:func:`soajs.response.starlette.install_handlers`; by default the registry
given to the :class:`~soajs.contrib.flask.SOAJS` extension.
:func:`handle_soajs_error` is the handler alone, for
``app.register_error_handler(SoajsError, handle_soajs_error)``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException

from soajs.connector.errors import ConnectorError
from soajs.response.answers import (
    Answer,
    answer_connector,
    answer_error,
    answer_unhandled,
    answer_validation,
)
from soajs.response.envelope import (
    ENVELOPE_CONTENT_TYPE,
    ErrorsSource,
    SoajsError,
    build_response,
    dumps,
)

__all__ = ["envelope_response", "error_response", "handle_soajs_error", "install_handlers"]


def app_source() -> ErrorsSource:
    """The current app's errors source: ``install_handlers``'s, else the SOAJS extension's
    registry."""
    extensions = current_app.extensions
    found = extensions.get("soajs.response")
    if found is not None:
        return found
    return getattr(extensions.get("soajs"), "registry", None)


def handle_soajs_error(exc: SoajsError) -> Response:
    """The error handler of :class:`SoajsError` (the current app's errors source)."""
    return _response(answer_error(exc, app_source()))


def _response(answer: Answer) -> Response:
    return Response(answer.body, status=answer.status, headers=answer.headers)


def envelope_response(
    data: Any = None, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A ready response with the success envelope of ``data``."""
    response = Response(dumps(build_response(data)), status=status, headers=headers)
    response.content_type = ENVELOPE_CONTENT_TYPE
    return response


def error_response(exc: SoajsError, source: ErrorsSource = None) -> Response:
    """A ready response with the error envelope of ``exc`` (its status and headers)."""
    return _response(answer_error(exc, source))


def install_handlers(
    app: Flask, source: ErrorsSource = None, *, unhandled: bool = False, validation: bool = False
) -> None:
    """Register the envelope's error handlers on ``app``."""

    if source is not None:
        app.extensions["soajs.response"] = source

    def on_connector_error(exc: ConnectorError) -> Response:
        return _response(answer_connector(exc, app_source()))

    app.register_error_handler(SoajsError, handle_soajs_error)
    app.register_error_handler(ConnectorError, on_connector_error)
    if validation:
        from pydantic import ValidationError

        def on_validation(exc: ValidationError) -> Response:
            return _response(answer_validation(exc.errors(include_url=False), app_source()))

        app.register_error_handler(ValidationError, on_validation)
    if unhandled:

        def on_unhandled(exc: Exception) -> Response | HTTPException:
            if isinstance(exc, HTTPException):
                return exc  # 404, 405, 400 from werkzeug: their own answer
            where = f"{request.method} {request.path}"
            return _response(answer_unhandled(exc, app_source(), where))

        app.register_error_handler(Exception, on_unhandled)
