"""Exceptions to envelope answers (status, body, headers): what every framework's
handlers share, so FastAPI, Flask and Django answer byte for byte the same.

* :class:`~soajs.response.SoajsError`: its codes and status.
* A connector error (:class:`~soajs.connector.ConnectorError`): a peer's
  :class:`~soajs.connector.ServiceError` is relayed (its codes and details;
  its status when 4xx/5xx, else 500); a call that could not be made answers
  the gateway's codes: 133 (503) unreachable, 134 (504) deadline, 135 (502)
  answer too large. No host, port or exception text reaches the body.
* Opt-in, any other exception: 500, code 164 with Node's generic message,
  never the exception's text; logged at ERROR with its traceback (bounded:
  8 KiB per traceback, at most :data:`LOG_BURST` per minute, then one line
  with the count of those not logged).
* Opt-in, a validation error: 400, code 173, one message naming the fields
  and what is wrong with them (at most 10, never the input values).
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from soajs.connector.errors import (
    ConnectorError,
    DeadlineExceededError,
    ResponseTooLargeError,
    ServiceError,
)
from soajs.response.envelope import (
    ENVELOPE_CONTENT_TYPE,
    UNHANDLED_CODE,
    UNHANDLED_MESSAGE,
    VALIDATION_CODE,
    ErrorsSource,
    SoajsError,
    clean_message,
    dumps,
    error_envelope,
    errors_map,
)

__all__ = [
    "LOG_BURST",
    "Answer",
    "answer_connector",
    "answer_error",
    "answer_unhandled",
    "answer_validation",
]

logger = logging.getLogger("soajs.response")

#: The gateway's own codes and texts (soajs.core error config) for a call that failed.
GATEWAY_CODES = {
    133: "The service you are trying to reach is not reachable at this moment.",
    134: "All requests to the service you are trying to reach are timing out.",
    135: "Error occurred while redirecting your request to the service",
}
#: Unhandled errors logged with a traceback per minute; the rest are counted.
LOG_BURST = 10
_TRACEBACK_CHARS = 8192
_MAX_FIELDS = 10
_LOC_CHARS = 64
_MSG_CHARS = 200
_MESSAGE_BUDGET = 900  # the listed fields; the whole message stays under MAX_MESSAGE_CHARS


@dataclass(frozen=True)
class Answer:
    """What to send: ``status``, the JSON ``body`` and the ``headers`` (Content-Type included)."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def _answer(
    status: int, envelope: dict[str, Any], extra: Mapping[str, str] | None = None
) -> Answer:
    headers = dict(extra or {})
    headers["Content-Type"] = ENVELOPE_CONTENT_TYPE
    return Answer(status, dumps(envelope), headers)


def answer_error(exc: SoajsError, source: ErrorsSource = None) -> Answer:
    """The envelope of a raised :class:`SoajsError`, with its status and headers."""
    return _answer(exc.status, exc.envelope(source), exc.headers)


def _with_defaults(source: ErrorsSource, defaults: Mapping[int, str]) -> dict[int, str]:
    merged = dict(defaults)
    merged.update(errors_map(source))
    return merged


def answer_connector(exc: ConnectorError, source: ErrorsSource = None) -> Answer:
    """A connector error as an envelope (see the module docstring)."""
    if isinstance(exc, ServiceError) and exc.codes:
        status = exc.status if 400 <= exc.status <= 599 else 500
        pairs: list[tuple[int, str | None]] = [
            (code, str(detail.get("message") or ""))
            for detail in exc.details
            if isinstance(code := detail.get("code"), int)
        ]
        pairs.extend((code, "") for code in exc.codes)  # "": listed, no detail, no warning
        return _answer(status, error_envelope(pairs))
    if isinstance(exc, DeadlineExceededError):
        code, status = 134, 504
    elif isinstance(exc, ResponseTooLargeError):
        code, status = 135, 502
    else:
        code, status = 133, 503
    return _answer(status, error_envelope([(code, None)], _with_defaults(source, GATEWAY_CODES)))


class _Limiter:
    def __init__(self, burst: int, period: float) -> None:
        self.burst = burst
        self.period = period
        self.lock = threading.Lock()
        self.window = 0.0
        self.count = 0
        self.suppressed = 0

    def admit(self) -> tuple[bool, int]:
        """Whether to log this one, and how many were not logged before it."""
        now = time.monotonic()
        with self.lock:
            if now - self.window >= self.period:
                self.window, self.count = now, 0
            if self.count >= self.burst:
                self.suppressed += 1
                return False, 0
            self.count += 1
            dropped, self.suppressed = self.suppressed, 0
            return True, dropped


_limiter = _Limiter(LOG_BURST, 60.0)


def _traceback(exc: BaseException) -> str:
    text = "".join(traceback.format_exception(exc))
    if len(text) <= _TRACEBACK_CHARS:
        return text
    head = _TRACEBACK_CHARS // 4
    return text[:head] + "\n[... traceback cut ...]\n" + text[-(_TRACEBACK_CHARS - head) :]


def answer_unhandled(exc: BaseException, source: ErrorsSource = None, where: str = "") -> Answer:
    """500, code 164: nothing of ``exc`` in the body; logged (bounded) at ERROR."""
    admitted, dropped = _limiter.admit()
    if admitted:
        logger.error(
            "unhandled %s%s, answered 500 (code %d)%s\n%s",
            type(exc).__name__,
            f" in {clean_message(where, 200)}" if where else "",
            UNHANDLED_CODE,
            f"; {dropped} earlier unhandled error(s) not logged" if dropped else "",
            _traceback(exc),
        )
    envelope = error_envelope(
        [(UNHANDLED_CODE, None)], _with_defaults(source, {UNHANDLED_CODE: UNHANDLED_MESSAGE})
    )
    return _answer(500, envelope)


def _loc(loc: Any) -> str:
    parts: Iterable[Any] = loc if isinstance(loc, Sequence) and not isinstance(loc, str) else [loc]
    text = ".".join(clean_message(part, _LOC_CHARS) for part in list(parts)[:8])
    return text or "request"


def answer_validation(errors: Sequence[Any], source: ErrorsSource = None) -> Answer:
    """400, code 173: "Validation failed: <field>: <what>; ..." from pydantic-style errors
    (``loc``, ``msg``); the offending input is never repeated."""
    parts: list[str] = []
    used = 0
    for index, item in enumerate(errors):
        if not isinstance(item, Mapping):
            continue
        part = f"{_loc(item.get('loc'))}: {clean_message(item.get('msg'), _MSG_CHARS)}"
        if len(parts) == _MAX_FIELDS or used + len(part) > _MESSAGE_BUDGET:
            parts.append(f"and {len(errors) - index} more")
            break
        parts.append(part)
        used += len(part) + 2
    message = "Validation failed: " + ("; ".join(parts) if parts else "invalid request")
    return _answer(400, error_envelope([(VALIDATION_CODE, message)], errors_map(source)))
