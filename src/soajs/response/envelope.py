"""The SOAJS response envelope, framework-free: what every handler module renders.

A Node SOAJS service answers ``req.soajs.buildResponse(error, data)``
(``mw/response/response.js``)::

    {"result": true, "data": ...}
    {"result": false, "errors": {"codes": [...], "details": [{"code", "message"}]}}

:func:`build_response` is the first, :class:`SoajsError` the second: its
codes are looked up in the service's ``errors`` map (``Config.errors``, the
``errors`` of a Node ``config.js``) unless the error carries its own message.

Bounds: at most :data:`MAX_CODES` codes per error (more are dropped, with
one WARNING line per process), a message at most :data:`MAX_MESSAGE_CHARS`
characters, control characters replaced by spaces.
"""

from __future__ import annotations

import datetime
import enum
import functools
import json
import logging
import math
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, TypeAlias

from soajs import errors as _errors

__all__ = [
    "ENVELOPE_CONTENT_TYPE",
    "MAX_CODES",
    "MAX_MESSAGE_CHARS",
    "UNHANDLED_CODE",
    "VALIDATION_CODE",
    "ErrorsSource",
    "SoajsError",
    "build_response",
    "clean_message",
    "dumps",
    "error_envelope",
    "errors_map",
]

logger = logging.getLogger("soajs.response")

ENVELOPE_CONTENT_TYPE = "application/json"
#: Codes kept per error envelope (ours and a peer's, see the connector).
MAX_CODES = 100
#: Characters kept of one message.
MAX_MESSAGE_CHARS = 1024
#: Node's core code for an unhandled error: "Unknown error @ rest core!".
UNHANDLED_CODE = 164
UNHANDLED_MESSAGE = "Unknown error @ rest core!"
#: The code our validation answers carry (Node's IMFV: "Validation failed for field").
VALIDATION_CODE = 173

#: Where the errors map comes from: a :class:`~soajs.Config`, anything with a
#: ``config`` attribute holding one (a RegistryManager), a mapping, or nothing.
ErrorsSource: TypeAlias = Any

_CONTROL = {c: " " for c in [*range(0, 32), 127]}


def clean_message(text: object, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` as one bounded line: control characters become spaces, trimmed, cut."""
    value = text if isinstance(text, str) else str(text)
    if len(value) > limit * 4:
        value = value[: limit * 4]
    value = value.translate(_CONTROL).strip()
    return value if len(value) <= limit else value[: limit - 1] + "…"


#: Codes are kept below 2**53, as the connector reads a peer's: JavaScript's numbers.
MAX_CODE = 2**53 - 1


def _check_code(code: object) -> int:
    if isinstance(code, str) and code.isascii() and code.isdigit() and len(code) <= 15:
        number = int(code)  # Node's config.js keys are strings: "400" is code 400
    else:
        number = code if isinstance(code, int) and not isinstance(code, bool) else 0
    if not 0 < number <= MAX_CODE:
        raise TypeError(f"an error code is a positive int (or digit string), got {code!r}")
    return number


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}")
_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]{0,8192}")
#: Set by the handlers themselves; a SoajsError's headers cannot replace them.
_OWN_HEADERS = frozenset({"content-type", "content-length", "transfer-encoding"})


def _check_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """Headers every server can send (an RFC 9110 token, a Latin-1 value without CR, LF
    or NUL): uvicorn drops the connection and werkzeug answers HTML on anything else."""
    checked: dict[str, str] = {}
    for name, value in (headers or {}).items():
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise ValueError(f"a SoajsError header name must be a token, got {name!r:.80}")
        if not isinstance(value, str) or not _VALUE.fullmatch(value):
            raise ValueError(
                f"the SoajsError header {name!r} has a value no server can send "
                "(a string of Latin-1 text without control characters, up to 8192)"
            )
        if name.lower() not in _OWN_HEADERS:
            checked[name] = value
    return checked


def _check_status(status: object) -> int:
    if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
        raise ValueError(f"an error status is an int within 200-599, got {status!r}")
    return status


class SoajsError(_errors.SoajsError):
    """Raise it in a handler: the installed handlers answer the error envelope.

    ``SoajsError(402)`` takes its message from the service's ``errors`` map;
    ``SoajsError(402, "Order 7 is closed")`` carries its own. Several codes:
    ``SoajsError([402, 405])`` or ``SoajsError([(402, None), (405, "...")])``
    (Node's ``buildResponse([...])``); ``message`` then applies to the first.
    A code is a positive int below 2**53 or its digit string (``"402"``, as
    the keys of a Node ``config.js``). ``status`` is the HTTP status, also
    the third positional argument (default 500; 200-599: a 2xx answers the
    error envelope as Node services often do), ``headers`` extra response
    headers (a ``ValueError`` for a header no server can send, such as one
    with a line break; ``Content-Type`` and ``Content-Length`` are the
    handler's and are dropped). A :class:`soajs.SoajsError` like every error of this
    library, so ``except soajs.SoajsError`` catches it too.
    """

    def __init__(
        self,
        code: int | str | Iterable[int | str | tuple[int | str, str | None]],
        message: str | None = None,
        status: int = 500,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        pairs: list[tuple[int, str | None]] = []
        items: Iterable[Any] = (
            code if isinstance(code, Iterable) and not isinstance(code, str | bytes) else [code]
        )
        for item in items:
            if isinstance(item, tuple):
                number, text = item
                pairs.append((_check_code(number), None if text is None else str(text)))
            else:
                pairs.append((_check_code(item), None))
            if len(pairs) > MAX_CODES:
                raise ValueError(f"a SoajsError carries at most {MAX_CODES} codes")
        if not pairs:
            raise ValueError("a SoajsError needs at least one code")
        if message is not None:
            pairs[0] = (pairs[0][0], str(message))
        self.errors: tuple[tuple[int, str | None], ...] = tuple(pairs)
        self.code = pairs[0][0]
        self.message = message
        self.status = _check_status(status)
        self.headers: dict[str, str] = _check_headers(headers)
        super().__init__(f"SOAJS error {self.code}" + (f": {message}" if message else ""))

    def __reduce__(self) -> tuple[Any, ...]:
        # pickle and copy rebuild it from its codes (Exception's default passes str(self))
        rebuild = functools.partial(type(self), headers=self.headers)
        return (rebuild, (list(self.errors), None, self.status), dict(self.__dict__))

    def envelope(self, source: ErrorsSource = None) -> dict[str, Any]:
        """The error envelope, messages from ``source``'s errors map (see :func:`errors_map`)."""
        return error_envelope(self.errors, errors_map(source))


_NO_DATA: Any = object()


def build_response(data: Any = _NO_DATA) -> dict[str, Any]:
    """The success envelope: `{"result": true, "data": data}`.

    `data` may be `None` (sent as `null`); with no argument at all the envelope
    is `{"result": true}`, as Node's `buildResponse(null, undefined)` leaves `data` out.
    """
    if data is _NO_DATA:
        return {"result": True}
    return {"result": True, "data": data}


def errors_map(source: ErrorsSource) -> Mapping[int, str]:
    """The ``errors`` map of a Config, of a RegistryManager's Config, or a mapping itself."""
    if source is None:
        return {}
    if isinstance(source, Mapping):
        return _mapping(source)
    found = getattr(source, "errors", None)
    if isinstance(found, Mapping):
        return found
    config = getattr(source, "config", None)
    found = getattr(config, "errors", None)
    return found if isinstance(found, Mapping) else {}


def _mapping(source: Mapping[Any, Any]) -> Mapping[int, str]:
    if all(isinstance(k, int) and not isinstance(k, bool) for k in source):
        return source
    out: dict[int, str] = {}
    for key, value in source.items():
        text = str(key)
        if text.isascii() and text.isdigit():  # Node's config.js keys are strings: {"400": "..."}
            out[int(text)] = str(value)
    return out


_warned: set[int] = set()
_warned_lock = threading.Lock()
_WARN_CAP = 100


def _warn_unknown(code: int) -> None:
    with _warned_lock:
        if code in _warned or len(_warned) >= _WARN_CAP:
            return
        _warned.add(code)
    logger.warning(
        "SOAJS error code %d has no message: it is not in the service's errors map "
        "(Config.errors) and the SoajsError gave none; the envelope carries the code alone",
        code,
    )


def error_envelope(
    errors: Iterable[tuple[int, str | None]], messages: Mapping[int, str] | None = None
) -> dict[str, Any]:
    """``{"result": false, "errors": {"codes": [...], "details": [...]}}``.

    As Node's ``addErrorCode``: a code given twice is kept once (the first),
    a code without a message (none given, none in ``messages``) is listed in
    ``codes`` with no ``details`` entry (and a WARNING, once per code). Unlike
    Node, ``codes`` are sorted as numbers (Node sorts them as text) and
    ``details`` is always present, possibly empty.
    """
    lookup = messages or {}
    codes: list[int] = []
    details: list[dict[str, Any]] = []
    seen: set[int] = set()
    for code, message in errors:
        if code in seen:
            continue
        if len(codes) >= MAX_CODES:
            break
        seen.add(code)
        codes.append(code)
        text = message if message is not None else lookup.get(code)
        text = clean_message(text) if text is not None else ""
        if text:
            details.append({"code": code, "message": text})
        elif message is None:
            _warn_unknown(code)
    codes.sort()
    return {"result": False, "errors": {"codes": codes, "details": details}}


def _default(value: Any) -> Any:
    dump: Callable[..., Any] | None = getattr(value, "model_dump", None)
    if dump is not None:  # pydantic models
        return dump(mode="json")
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def dumps(envelope: Any) -> bytes:
    """Compact UTF-8 JSON, as Node's ``JSON.stringify``; pydantic models, dates, UUIDs,
    decimals, enums and sets are converted, NaN and infinities become ``null`` (as
    ``JSON.stringify``; Python would write ``NaN``, which is not JSON). Raises
    ``TypeError`` for anything else."""
    options: dict[str, Any] = {"separators": (",", ":"), "ensure_ascii": False}
    try:
        text = json.dumps(envelope, allow_nan=False, default=_default, **options)
    except ValueError as exc:
        if "float" not in str(exc):  # a circular reference, an int too long: as is
            raise
        plain = json.loads(json.dumps(envelope, default=_default, **options))
        text = json.dumps(_finite(plain), allow_nan=False, **options)
    return text.encode("utf-8")
