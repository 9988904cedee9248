"""The one parsing core: raw ``soajsinjectobj`` bytes -> ``ContextData`` or a reason.

Framework-free and I/O-free. Every adapter (ASGI, WSGI, Django) hands it the
header values it found, as bytes; it never raises to its caller.

Order of checks (cheapest first, nothing decoded before the size cap):

1. more than one value -> ``DUPLICATE``;
2. more bytes than ``max_size`` -> ``TOO_LARGE``;
3. percent-decoding when the value starts with ``%7B`` (in C:
   :mod:`soajs.context.percent`) -> ``BAD_PERCENT_ENCODING``;
4. UTF-8 decoding -> ``NOT_UTF8``;
5. JSON (:mod:`soajs.context.decode`) with ``NaN``/``Infinity`` refused ->
   ``NOT_JSON`` / ``NON_FINITE_NUMBER`` / ``INTEGER_TOO_LONG``, two values
   glued by a comma (what WSGI servers make of a repeated header) ->
   ``DUPLICATE``, not an object -> ``NOT_AN_OBJECT``, nesting deeper than
   :data:`MAX_DEPTH` -> ``TOO_DEEP``, more values than
   :data:`~soajs.context.decode.MAX_ELEMENTS` -> ``TOO_MANY_ELEMENTS``;
6. the mapping of PROTOCOL.md into :class:`~soajs.models.ContextData`
   -> ``NO_TENANT`` / ``TOO_MANY_INTERCONNECT`` / ``BAD_SHAPE``.

The decoded JSON is frozen lazily (:mod:`soajs.models._lazy`): the free-form
parts of the context (ACLs, configs, profiles...) are immutable from the start
but only frozen, level by level, when something reads them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from soajs.context.check import checks_out
from soajs.context.decode import MAX_DEPTH, DecodeError, decode_counted
from soajs.context.fastpath import Fallback, build_context, decode_names, deferred_context, obj
from soajs.context.percent import percent_decode
from soajs.context.reasons import Reason
from soajs.models._base import FrozenDict, freeze
from soajs.models._lazy import freeze_lazily
from soajs.models._masked import freeze_masked
from soajs.models.context import Application, ContextData, Tenant, Urac

__all__ = [
    "HEADER",
    "MAX_DEPTH",
    "MAX_INTERCONNECT",
    "ParseResult",
    "parse_inject_header",
    "wsgi_header_bytes",
]

#: The header's name as ASGI gives it (lower-case bytes).
HEADER = b"soajsinjectobj"

#: More ``awareness.interConnect`` entries than this are refused: each becomes a
#: typed model (about 1 KB and 0.8 µs), where ``{},`` is three bytes and 30 ns
#: to decode. The gateway lists there the services this one declared it calls
#: (its registration's ``interConnect``): a few, rarely dozens.
MAX_INTERCONNECT = 256

_PERCENT_START = (b"%7b", b"%7B")


def wsgi_header_bytes(value: str) -> bytes:
    """The raw bytes behind a WSGI header value (PEP 3333: a latin-1 ``str``)."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:  # a server that already decoded UTF-8
        return value.encode("utf-8", "surrogateescape")


@dataclass(frozen=True, slots=True)
class ParseResult:
    """A context (or ``None``) and why."""

    context: ContextData | None
    reason: Reason
    detail: str = ""
    #: an upper bound of the number of JSON values in the header (0: not counted),
    #: for the cache's accounting
    values: int = field(default=0, compare=False, repr=False)
    #: for a percent-encoded header, an upper bound of the bytes its decoded
    #: strings hold (:func:`text_bytes` of the JSON text); 0: the header is the
    #: JSON text itself, the cache measures it
    text: int = field(default=0, compare=False, repr=False)


def text_bytes(json_text: bytes) -> int:
    """An upper bound of the memory the strings decoded from ``json_text`` take.

    One byte a character when the text is ASCII without escapes; else four a
    byte of text: a string holding one character beyond U+FFFF (raw, or as an
    escape such as ``\\ud83d\\ude80``) is stored four bytes a character, and
    every character takes at least one byte of text.
    """
    if json_text.isascii() and b"\\" not in json_text:
        return len(json_text)
    return 4 * len(json_text)


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
    text_cost = 0
    if raw.startswith(_PERCENT_START):
        decoded = percent_decode(raw)  # unquote_to_bytes, in C (soajs.context.percent)
        if decoded is None:
            return ParseResult(None, Reason.BAD_PERCENT_ENCODING)
        raw = decoded
        # the key (ASCII escapes) says nothing of what the strings hold: the JSON does
        text_cost = text_bytes(raw)
    text = None
    if not raw.isascii():
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return ParseResult(None, Reason.NOT_UTF8)
    try:
        data, count = decode_counted(raw, text)
    except DecodeError as exc:
        return ParseResult(None, exc.reason, exc.detail)
    return _to_context(data, count, text_cost)


def _member_keys(model: type[BaseModel]) -> tuple[frozenset[str], frozenset[str]]:
    """The input keys (names and aliases) of ``model``'s JSON-map fields, and of its
    fields typed ``Any`` (which no validator freezes)."""
    lazy: set[str] = set()
    eager: set[str] = set()
    for name, info in model.model_fields.items():
        choices = (info.annotation, *get_args(info.annotation))
        keys = {k for k in (name, info.alias) if k}
        if any(c is FrozenDict or get_args(c)[:1] == (FrozenDict,) for c in choices):
            lazy.update(keys)
        elif info.annotation is Any:
            eager.update(keys)
    return frozenset(lazy), frozenset(eager)


_MEMBER_KEYS: dict[type[BaseModel], tuple[frozenset[str], frozenset[str]]] = {
    model: _member_keys(model) for model in (Tenant, Application, Urac)
}


def _frozen_members(obj: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """A copy of a decoded object ready for ``model``: its JSON-map fields (ACLs,
    configs: the bulk) frozen lazily, its ``Any`` fields frozen, everything else
    as decoded: typed fields become immutable values when validated, unknown
    ones are frozen once by the models' extras validator (never twice)."""
    lazy, eager = _MEMBER_KEYS[model]
    out = dict(obj)
    for key in lazy:
        if key in out:
            out[key] = freeze_lazily(out[key])
    for key in eager:
        if key in out:
            out[key] = freeze(out[key])
    return out


def _too_many_interconnect(awareness: Any) -> ParseResult | None:
    if type(awareness) is dict:
        entries = awareness.get("interConnect")
        if type(entries) is list and len(entries) > MAX_INTERCONNECT:
            return ParseResult(
                None,
                Reason.TOO_MANY_INTERCONNECT,
                f"{len(entries)} entries, more than {MAX_INTERCONNECT}",
            )
    return None


def _to_context(data: dict[str, Any], values: int = 0, text: int = 0) -> ParseResult:
    tenant = data.get("tenant")
    if type(tenant) is not dict:
        return ParseResult(None, Reason.NO_TENANT, "no tenant object")
    tenant_id, tenant_code = tenant.get("id"), tenant.get("code")
    if not (isinstance(tenant_id, str) and tenant_id and isinstance(tenant_code, str)
            and tenant_code):  # fmt: skip
        return ParseResult(None, Reason.NO_TENANT, "tenant id and code must be non-empty strings")
    refused = _too_many_interconnect(data.get("awareness"))
    if refused is not None:
        return refused
    if checks_out(data):  # every typed value checked, in C: built on first read
        return ParseResult(deferred_context(data), Reason.OK, "", values, text)
    try:
        return ParseResult(build_context(data), Reason.OK, "", values, text)
    except (Fallback, RecursionError):
        result = _validated(data, tenant)
    if result.context is not None:
        return ParseResult(result.context, result.reason, result.detail, values, text)
    return result


def _validated(data: dict[str, Any], tenant: dict[str, Any]) -> ParseResult:
    """The context as pydantic validates it (the reference :mod:`~soajs.context.fastpath`
    is checked against; used for the headers the fast path leaves to it)."""
    key = obj(data.get("key"))
    package = obj(data.get("package"))
    application = _frozen_members(obj(data.get("application")), Application)
    application["package_acl"] = freeze_lazily(package.get("acl"))
    application["package_acl_all_env"] = freeze_lazily(package.get("acl_all_env"))
    folded = _frozen_members(tenant, Tenant)
    folded["key"] = {"iKey": key.get("iKey"), "eKey": key.get("eKey")}
    folded["application"] = application
    awareness = data.get("awareness")
    urac = data.get("urac")
    if type(urac) is dict:
        urac = decode_names(_frozen_members(urac, Urac))
    config = key.get("config")
    fields = {
        "tenant": folded,
        "urac": urac,
        "services_config": freeze_masked(config) if config is not None else {},
        "device": freeze_lazily(data.get("device")),
        "geo": freeze_lazily(data.get("geo")),
        "awareness": awareness,
        "param": freeze_lazily(data.get("param")),
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
