"""Decoding another SOAJS service's answer: the envelope's ``data``, or its errors.

>>> answer = connector.get("orders", "/order/7")             # doctest: +SKIP
>>> order = unwrap(answer, service="orders")                 # doctest: +SKIP

Or in one step: ``connector.request_data("orders", "GET", "/order/7")``.

What is a failure (PROTOCOL.md, "Control plane API", as the gateway's own
clients read it): ``result: false`` whatever the HTTP status (Node services
answer most errors with 200), a status outside 2xx, a body that is not a JSON
object with a boolean ``result``, or a non-empty ``errors.details``.

A peer may be hostile: the body is read under the connector's size cap
(and, here, ``max_bytes``), nesting beyond the interpreter's recursion limit
is refused, ``NaN``/``Infinity`` (not JSON, though Python's parser takes them)
make the body invalid, at most 100 codes and 100 details are kept (the rest ignored),
codes that are not positive integers (or digit strings) are dropped, and
each message is one line of at most 1024 characters. Nothing in a body
raises anything but :class:`~soajs.connector.errors.ServiceError`.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from soajs.connector.body import DEFAULT_MAX_RESPONSE_BYTES
from soajs.connector.errors import InvalidEnvelopeError, ServiceError
from soajs.response.envelope import MAX_CODES, clean_message

__all__ = ["decode_envelope", "unwrap"]


def unwrap(
    response: httpx.Response,
    *,
    service: str | None = None,
    version: str | int | None = None,
    max_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES,
) -> Any:
    """The ``data`` of a ``result: true`` envelope (``None`` when absent).

    Raises :class:`~soajs.connector.errors.ServiceError` (with ``status``,
    ``codes``, ``details``) for an error answer and
    :class:`~soajs.connector.errors.InvalidEnvelopeError` for a 2xx answer that
    is not an envelope. ``service`` names the callee in messages (default: the
    URL's host). The body must be read (``connector.get`` does that).
    """
    name = service if service is not None else _host(response)
    return decode_envelope(
        response.status_code,
        response.content,
        service=name,
        version=None if version is None else str(version),
        max_bytes=max_bytes,
    )


def _host(response: httpx.Response) -> str:
    try:
        return response.request.url.host or "?"
    except RuntimeError:  # a response built without a request
        return "?"


def decode_envelope(
    status: int,
    content: bytes,
    *,
    service: str,
    version: str | None = None,
    max_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES,
) -> Any:
    """:func:`unwrap` on a status and raw body bytes."""
    ok = 200 <= status <= 299
    body = _parse(content, max_bytes)
    if not isinstance(body, dict) or not isinstance(body.get("result"), bool):
        if ok:
            raise InvalidEnvelopeError(
                "the answer is not a SOAJS envelope (a JSON object with a boolean 'result')",
                service=service,
                version=version,
                status=status,
            )
        raise ServiceError(f"HTTP {status}", service=service, version=version, status=status)
    codes, details = _errors(body.get("errors"))
    if body["result"] and ok and not details:
        return body.get("data")
    if details:
        message = str(details[0]["message"]) or f"HTTP {status}"
    elif not body["result"]:
        message = "the service answered result: false with no error message"
    else:
        message = f"HTTP {status}"
    raise ServiceError(
        message, service=service, version=version, status=status, codes=codes, details=details
    )


def _parse(content: bytes, max_bytes: int | None) -> Any:
    if max_bytes is not None and len(content) > max_bytes:
        return None
    try:
        return json.loads(content, parse_constant=_not_json)
    except (ValueError, RecursionError):  # not JSON / not UTF-8 / nested too deep
        return None


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # Python's json takes NaN/Infinity; JSON does not


def _code(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value < 2**53 else None
    if isinstance(value, str) and 0 < len(value) <= 15 and value.isascii() and value.isdigit():
        number = int(value)
        return number if number > 0 else None
    return None


def _message(value: Any) -> str:
    if isinstance(value, str):
        return clean_message(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return clean_message(repr(value))
    return ""


def _errors(errors: Any) -> tuple[tuple[int, ...], tuple[dict[str, object], ...]]:
    if not isinstance(errors, dict):
        return (), ()
    raw_codes = errors.get("codes")
    codes: list[int] = []
    if isinstance(raw_codes, list):
        for item in raw_codes[:MAX_CODES]:
            code = _code(item)
            if code is not None and code not in codes:
                codes.append(code)
    raw_details = errors.get("details")
    details: list[dict[str, object]] = []
    if isinstance(raw_details, list):
        for item in raw_details[:MAX_CODES]:
            if not isinstance(item, dict):
                continue
            code = _code(item.get("code"))
            message = _message(item.get("message"))
            if code is None and not message:
                continue
            details.append({"code": code, "message": message})
            if code is not None and code not in codes and len(codes) < MAX_CODES:
                codes.append(code)
    return tuple(codes), tuple(details)
