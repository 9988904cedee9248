"""The one parsing core: raw ``soajsinjectobj`` bytes -> ``ContextData`` or a reason.

Framework-free and I/O-free. Every adapter (ASGI, WSGI, Django) hands it the
header values it found, as bytes; it never raises to its caller.

Order of checks (cheapest first, nothing decoded before the size cap):

1. more than one value -> ``DUPLICATE``;
2. more bytes than ``max_size`` -> ``TOO_LARGE``;
3. percent-decoding when the value starts with ``%7B`` -> ``BAD_PERCENT_ENCODING``;
4. UTF-8 decoding -> ``NOT_UTF8``;
5. JSON with ``NaN``/``Infinity`` refused -> ``NOT_JSON`` / ``NON_FINITE_NUMBER``,
   two values glued by a comma (what WSGI servers make of a repeated header)
   -> ``DUPLICATE``, not an object -> ``NOT_AN_OBJECT``, nesting deeper than
   :data:`MAX_DEPTH` -> ``TOO_DEEP`` (checked on the decoded data);
6. the mapping of PROTOCOL.md into :class:`~soajs.models.ContextData`
   -> ``NO_TENANT`` / ``BAD_SHAPE``.

Objects are frozen while JSON is decoded (the decoder's ``object_hook``), so
building the immutable context does not walk the data a second time.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, unquote_to_bytes

from pydantic import ValidationError

from soajs.context.reasons import Reason
from soajs.models._base import FrozenDict
from soajs.models.context import ContextData

__all__ = ["HEADER", "MAX_DEPTH", "ParseResult", "parse_inject_header"]

#: The header's name as ASGI gives it (lower-case bytes).
HEADER = b"soajsinjectobj"
#: Deeper nesting than this is refused (a real header is about 10 deep). The exact
#: check runs only when the header has more opening brackets than this.
MAX_DEPTH = 64

_PERCENT_START = (b"%7b", b"%7B")
_BAD_PERCENT = re.compile(rb"%(?![0-9A-Fa-f]{2})")


@dataclass(frozen=True, slots=True)
class ParseResult:
    """A context (or ``None``) and why."""

    context: ContextData | None
    reason: Reason
    detail: str = ""


class _NonFinite(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _NonFinite(name)


def _freeze_object(pairs: dict[str, Any]) -> FrozenDict:
    for key, value in pairs.items():
        if type(value) is list:
            pairs[key] = tuple(value)
    return FrozenDict(pairs)


_DECODER = json.JSONDecoder(object_hook=_freeze_object, parse_constant=_refuse_constant)


def parse_inject_header(values: list[bytes], max_size: int) -> ParseResult:
    """Turn the ``soajsinjectobj`` values of one request into a context."""
    if not values:
        return ParseResult(None, Reason.MISSING)
    if len(values) > 1:
        return ParseResult(None, Reason.DUPLICATE, f"{len(values)} values")
    raw = values[0]
    if len(raw) > max_size:
        return ParseResult(None, Reason.TOO_LARGE, f"{len(raw)} > {max_size} bytes")
    raw = raw.strip()
    if raw.startswith(_PERCENT_START):
        if _BAD_PERCENT.search(raw):
            return ParseResult(None, Reason.BAD_PERCENT_ENCODING)
        raw = unquote_to_bytes(raw)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return ParseResult(None, Reason.NOT_UTF8)
    result = _decode_json(text)
    if isinstance(result, ParseResult):
        return result
    return _to_context(result)


def _decode_json(text: str) -> FrozenDict | ParseResult:
    try:
        data, end = _DECODER.raw_decode(text)
    except _NonFinite:
        return ParseResult(None, Reason.NON_FINITE_NUMBER)
    except RecursionError:
        return ParseResult(None, Reason.TOO_DEEP)
    except ValueError as exc:
        return ParseResult(None, Reason.NOT_JSON, _json_position(exc))
    rest = text[end:].lstrip()
    if rest:
        reason = Reason.DUPLICATE if rest.startswith(",") else Reason.NOT_JSON
        return ParseResult(None, reason, "data after the JSON value")
    if not isinstance(data, FrozenDict):
        return ParseResult(None, Reason.NOT_AN_OBJECT, f"a JSON {_json_kind(data)}")
    if text.count("{") + text.count("[") > MAX_DEPTH and _too_deep(data):
        return ParseResult(None, Reason.TOO_DEEP, f"more than {MAX_DEPTH} levels")
    return data


def _json_kind(value: Any) -> str:
    if isinstance(value, tuple | list):
        return "array"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return "number"


def _too_deep(root: FrozenDict) -> bool:
    """True when decoded ``root`` nests containers deeper than :data:`MAX_DEPTH`.

    Runs after decoding (the decoder itself refuses nesting past the
    interpreter's recursion limit) and only when the bracket count says the
    limit could be exceeded; an explicit stack, so no recursion.
    """
    stack: list[tuple[Any, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        for value in node.values() if type(node) is FrozenDict else node:
            kind = type(value)
            if kind is FrozenDict or kind is tuple:
                stack.append((value, depth + 1))
    return False


def _json_position(exc: ValueError) -> str:
    # JSONDecodeError's msg and position say where, never what: no content leaks.
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at position {exc.pos}"
    return type(exc).__name__


def _obj(value: Any) -> FrozenDict:
    return value if isinstance(value, FrozenDict) else FrozenDict()


def _to_context(data: FrozenDict) -> ParseResult:
    tenant = data.get("tenant")
    if not isinstance(tenant, FrozenDict):
        return ParseResult(None, Reason.NO_TENANT, "no tenant object")
    tenant_id, tenant_code = tenant.get("id"), tenant.get("code")
    if not (isinstance(tenant_id, str) and tenant_id and isinstance(tenant_code, str)
            and tenant_code):  # fmt: skip
        return ParseResult(None, Reason.NO_TENANT, "tenant id and code must be non-empty strings")
    key = _obj(data.get("key"))
    package = _obj(data.get("package"))
    application = dict(_obj(data.get("application")))
    application["package_acl"] = package.get("acl")
    application["package_acl_all_env"] = package.get("acl_all_env")
    folded = dict(tenant)
    folded["key"] = {"iKey": key.get("iKey"), "eKey": key.get("eKey")}
    folded["application"] = application
    urac = data.get("urac")
    if isinstance(urac, FrozenDict):
        urac = _decode_names(urac)
    fields = {
        "tenant": folded,
        "urac": urac,
        "services_config": key.get("config") if key.get("config") is not None else FrozenDict(),
        "device": data.get("device"),
        "geo": data.get("geo"),
        "awareness": data.get("awareness"),
        "param": data.get("param"),
    }
    try:
        context = ContextData.model_validate(fields)
    except ValidationError as exc:
        err = exc.errors(include_url=False, include_input=False, include_context=False)[0]
        where = ".".join(str(part) for part in err["loc"])
        return ParseResult(None, Reason.BAD_SHAPE, f"{where}: {err['msg']}")
    except RecursionError:
        return ParseResult(None, Reason.TOO_DEEP)
    return ParseResult(context, Reason.OK)


def _decode_names(urac: FrozenDict) -> dict[str, Any]:
    """``urac.firstName`` / ``lastName`` arrive percent-encoded (PROTOCOL.md)."""
    out = dict(urac)
    for name in ("firstName", "lastName"):
        value = out.get(name)
        if isinstance(value, str) and "%" in value:
            # not percent-encoding after all: keep it as sent
            with contextlib.suppress(UnicodeDecodeError):
                out[name] = unquote(value, errors="strict")
    return out
