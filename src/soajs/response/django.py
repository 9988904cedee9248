"""The envelope for Django: add ``"soajs.response.django.EnvelopeMiddleware"`` to
``MIDDLEWARE`` (after ``soajs.contrib.django.SOAJSMiddleware``).

Configured by ``settings.SOAJS_RESPONSE`` (a dict, optional): ``errors`` (a
mapping ``{code: message}``, a :class:`~soajs.Config`, a RegistryManager, or
the dotted path of one; default the registry of ``settings.SOAJS``),
``unhandled`` and ``validation`` (booleans, default false).

Its ``process_exception`` answers a raised :class:`~soajs.response.SoajsError`
and a :class:`~soajs.connector.ConnectorError` with the envelope;
``unhandled`` any other exception with the 500 envelope (code 164, logged
once with its traceback) except Django's own (``Http404``,
``PermissionDenied``, ``BadRequest``, ``MultiPartParserError``,
``SuspiciousOperation``), which keep their answers;
``validation`` a ``pydantic.ValidationError`` with 400 (code 173).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.module_loading import import_string

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

__all__ = ["EnvelopeMiddleware", "envelope_response", "error_response"]

#: What Django answers itself (404, 403, 400): ``response_for_exception``'s list.
_DJANGO_OWN = (Http404, PermissionDenied, MultiPartParserError, BadRequest, SuspiciousOperation)


def _response(answer: Answer) -> HttpResponse:
    response = HttpResponse(answer.body, status=answer.status, content_type=ENVELOPE_CONTENT_TYPE)
    for name, value in answer.headers.items():
        response[name] = value
    return response


def envelope_response(
    data: Any = None, status: int = 200, headers: dict[str, str] | None = None
) -> HttpResponse:
    """A ready response with the success envelope of ``data``."""
    return _response(Answer(status, dumps(build_response(data)), dict(headers or {})))


def error_response(exc: SoajsError, source: ErrorsSource = None) -> HttpResponse:
    """A ready response with the error envelope of ``exc`` (its status and headers)."""
    return _response(answer_error(exc, source))


def _source(conf: dict[str, Any]) -> ErrorsSource:
    source = conf.get("errors")
    if source is None:
        source = (getattr(settings, "SOAJS", None) or {}).get("registry")
    if isinstance(source, str):
        source = import_string(source)
    return source


class EnvelopeMiddleware:
    """Answers the exceptions of views with the SOAJS envelope (see the module)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        conf: dict[str, Any] = dict(getattr(settings, "SOAJS_RESPONSE", None) or {})
        self.source = _source(conf)
        self.unhandled = bool(conf.get("unhandled", False))
        self.validation = bool(conf.get("validation", False))

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """The envelope for ``exception``, or ``None`` to leave it to Django."""
        if isinstance(exception, SoajsError):
            return _response(answer_error(exception, self.source))
        if isinstance(exception, ConnectorError):
            return _response(answer_connector(exception, self.source))
        if self.validation:
            from pydantic import ValidationError

            if isinstance(exception, ValidationError):
                errors = exception.errors(include_url=False)
                return _response(answer_validation(errors, self.source))
        if self.unhandled and not isinstance(exception, _DJANGO_OWN):
            where = f"{request.method} {request.path}"
            return _response(answer_unhandled(exception, self.source, where))
        return None
