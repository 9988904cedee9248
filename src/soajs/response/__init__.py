"""The SOAJS response envelope: ``build_response``, ``SoajsError`` and their handlers.

::

    from soajs.response import SoajsError, build_response

    @app.get("/orders/{id}")
    def order(id: int):
        if id not in ORDERS:
            raise SoajsError(404, status=404)   # message from Config.errors[404]
        return build_response(ORDERS[id])       # {"result": true, "data": {...}}

The handlers that turn a raised :class:`SoajsError` into the envelope are
per framework: :mod:`soajs.response.starlette` (FastAPI, Starlette),
:mod:`soajs.response.flask` and :mod:`soajs.response.django`, each with
``install_handlers`` (Django: a middleware) and ``envelope_response``.
:mod:`soajs.response.envelope` is the framework-free core and
:mod:`soajs.response.answers` what the handlers share. Decoding another
service's envelope is :func:`soajs.connector.unwrap`.
"""

from soajs.response.envelope import (
    ENVELOPE_CONTENT_TYPE,
    MAX_CODES,
    MAX_MESSAGE_CHARS,
    UNHANDLED_CODE,
    VALIDATION_CODE,
    SoajsError,
    build_response,
    dumps,
    error_envelope,
    errors_map,
)

__all__ = [
    "ENVELOPE_CONTENT_TYPE",
    "MAX_CODES",
    "MAX_MESSAGE_CHARS",
    "UNHANDLED_CODE",
    "VALIDATION_CODE",
    "SoajsError",
    "build_response",
    "dumps",
    "error_envelope",
    "errors_map",
]
