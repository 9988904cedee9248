"""The context's models built straight from the decoded header, validated once.

:func:`soajs.context.parser.parse_inject_header` used to hand the decoded
header to ``ContextData.model_validate``: pydantic validating every typed
part (each ``interConnect`` entry a model, each group a string) cost three
times the JSON decode. This module builds the same models without
validating twice, for the headers a gateway sends:

* every typed value is checked by exact type (a ``str`` field holds a
  ``str``, a ``bool | None`` one ``True``, ``False`` or ``None``...), which is
  what decoded JSON from a gateway holds; then the models are created with
  their ``__dict__``, fields set and extras filled in as pydantic fills them
  (field order, defaults, aliases, unknown keys kept and frozen once);
* ``urac.groups`` is checked in C (``str.join`` refuses anything but
  strings) and becomes a tuple;
* ``awareness.interConnect`` entries are checked in C (msgspec, strict) and
  built on first read (:mod:`soajs.models._pending`);
* the free-form JSON maps (ACLs, configs, profiles) are frozen lazily
  (:mod:`soajs.models._lazy`), as before.

Anything else (a number where a string is expected, which pydantic would
coerce; a wrong type, which it would refuse; a field given by its Python name
rather than its wire name) raises :class:`Fallback`, and the parser validates
that header with pydantic as before. So this path changes speed, never
outcomes: same reasons, same models (``tests/unit/test_fastpath.py`` checks
both paths against each other on generated headers).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from soajs.context.modelspec import (
    EXTRA,
    FALLBACK,
    Fallback,
    ModelSpec,
    model_check,
    new,
    opt_bool,
    opt_int,
    opt_map,
    opt_str,
    pending_entries,
    req_str,
    secret,
    set_dict,
    set_fields_set,
    set_private,
    str_or_map,
    strings,
)
from soajs.context.percent import unquote as percent_unquote
from soajs.models._base import EMPTY, freeze
from soajs.models._deferred import KEY, deferred_data
from soajs.models._masked import MaskedMap, NameMaskedMap
from soajs.models._pending import pending_count
from soajs.models.context import Application, ContextData, Key, Tenant, TenantRef, Urac
from soajs.models.registry import Awareness

__all__ = [
    "Fallback",
    "build_context",
    "decode_names",
    "deferred_context",
    "interconnect_count",
    "obj",
]


_REF = ModelSpec(TenantRef, {"id": opt_str, "code": opt_str})
_KEY = ModelSpec(Key, {"i_key": secret, "e_key": secret})
_APPLICATION = ModelSpec(
    Application,
    {"product": opt_str, "package": opt_str, "app_id": opt_str, "acl": opt_map,
     "acl_all_env": opt_map, "package_acl": opt_map, "package_acl_all_env": opt_map},
)  # fmt: skip
_TENANT = ModelSpec(
    Tenant,
    {"id": req_str, "code": req_str, "name": opt_str, "type": opt_str, "locked": opt_bool,
     "roaming": freeze, "main": model_check(_REF, True), "profile": opt_map,
     "key": model_check(_KEY, False), "application": model_check(_APPLICATION, False)},
)  # fmt: skip


def _opt_named(value: Any) -> Any:
    """A urac map: values under secret-like keys print masked (soajs.models._masked)."""
    if value is None:
        return None
    if type(value) is dict:
        return NameMaskedMap(value) if value else EMPTY
    raise FALLBACK


_URAC = ModelSpec(
    Urac,
    {"id": opt_str, "username": opt_str, "first_name": opt_str, "last_name": opt_str,
     "email": opt_str, "groups": strings, "tenant": model_check(_REF, True),
     "profile": _opt_named, "acl": _opt_named, "acl_all_env": _opt_named, "config": _opt_named,
     "groups_config": _opt_named, "social_login": _opt_named},
)  # fmt: skip
# interConnect is checked, not built: the check returns the decoded list, moved to
# the private ``_pending`` below (the field stays absent until read)
_AWARENESS = ModelSpec(
    Awareness, {"host": opt_str, "port": opt_int, "inter_connect": pending_entries}
)
_CONTEXT_FIELDS = frozenset(ContextData.model_fields)
_CONTEXT_PRIVATE = {name: None for name in ContextData.__private_attributes__}
_DEFERRED = KEY
_INTER_CONNECT = "inter_connect"


def _awareness(value: Any) -> Any:
    if value is None:
        return None
    if type(value) is not dict:
        raise FALLBACK
    model = _AWARENESS.build(value, {"_pending": None})
    fields = model.__dict__
    entries = fields[_INTER_CONNECT]
    if entries is not None:  # a list: checked, built on first read
        del fields[_INTER_CONNECT]
        model.__pydantic_private__["_pending"] = entries
    return model


def obj(value: Any) -> dict[str, Any]:
    return value if type(value) is dict else {}


def decode_names(urac: dict[str, Any]) -> dict[str, Any]:
    """``urac.firstName`` / ``lastName`` arrive percent-encoded (PROTOCOL.md): ``urac``
    with them decoded (a copy, when one was)."""
    decoded = None
    for name in _NAMES:
        value = urac.get(name)
        if isinstance(value, str) and "%" in value:
            try:
                # urllib's unquote(value, errors="strict"), with the escapes decoded in C
                # (soajs.context.percent; unquote loops over them in Python: 2.3 ms for a
                # 64 KiB name of %41). It decodes each run of ASCII and keeps the other
                # characters; whole, the same: raw characters are complete UTF-8, so an
                # escaped sequence is valid alone exactly when it is valid among them.
                text = percent_unquote(value.encode("utf-8", "surrogatepass")).decode("utf-8")
            except UnicodeDecodeError:  # not percent-encoding after all: kept as sent
                continue
            if decoded is None:
                decoded = dict(urac)
            decoded[name] = text
    return urac if decoded is None else decoded


_NAMES = ("firstName", "lastName")


def _tenant(data: dict[str, Any]) -> Any:
    key = obj(data.get("key"))
    package = obj(data.get("package"))
    application = dict(obj(data.get("application")))
    application["package_acl"] = package.get("acl")
    application["package_acl_all_env"] = package.get("acl_all_env")
    folded = dict(data["tenant"])
    folded["key"] = {"iKey": key.get("iKey"), "eKey": key.get("eKey")}
    folded["application"] = application
    return _TENANT.build(folded)


def _urac(data: dict[str, Any]) -> Any:
    urac = data.get("urac")
    if urac is None:
        return None
    if type(urac) is not dict:
        raise FALLBACK
    return _URAC.build(decode_names(urac))


def _services_config(data: dict[str, Any]) -> Any:
    config = obj(data.get("key")).get("config")
    if config is None:
        return EMPTY
    if type(config) is not dict:
        raise FALLBACK
    return MaskedMap(config) if config else EMPTY  # prints masked (soajs.models._masked)


#: one builder per ContextData field, from the decoded header (as the parser folds it)
_FIELD_BUILDERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "tenant": _tenant,
    "urac": _urac,
    "services_config": _services_config,
    "device": lambda data: str_or_map(data.get("device")),
    "geo": lambda data: opt_map(data.get("geo")),
    "awareness": lambda data: _awareness(data.get("awareness")),
    "param": lambda data: opt_map(data.get("param")),
}
if list(_FIELD_BUILDERS) != list(ContextData.model_fields):  # every field, in order
    raise TypeError(f"ContextData fields changed: {list(ContextData.model_fields)}")


def _context(fields: dict[str, Any], deferred: Any) -> ContextData:
    context = new(ContextData)
    fields[EXTRA] = {}
    set_dict(context, fields)
    set_fields_set(context, set(_CONTEXT_FIELDS))
    private = dict(_CONTEXT_PRIVATE)
    private[_DEFERRED] = deferred
    set_private(context, private)
    return context


def build_context(data: dict[str, Any]) -> ContextData:
    """The context of the decoded header ``data`` (whose ``tenant`` has string id and
    code), as ``ContextData.model_validate`` of the folded header gives it, every
    field built now; raises :class:`Fallback` where only that can say."""
    return _context({name: build(data) for name, build in _FIELD_BUILDERS.items()}, None)


def deferred_context(data: dict[str, Any]) -> ContextData:
    """:func:`build_context`, each field built on first read: for a header that
    :func:`soajs.context.check.checks_out` (so every field builds without pydantic)."""
    return _context({}, (_build_field, data))


def _build_field(data: dict[str, Any], name: str) -> Any:
    try:
        return _FIELD_BUILDERS[name](data)
    except (Fallback, RecursionError):
        # not reached for a header that checked out; if ever, pydantic decides
        from soajs.context.parser import _validated

        context = _validated(data, data["tenant"]).context
        if context is None:
            raise AttributeError(name) from None
        return context.__dict__[name]


def interconnect_count(context: ContextData) -> int:
    """``len(context.awareness.inter_connect)``, without building anything."""
    data = deferred_data(context)
    if data is not None and "awareness" not in context.__dict__:
        awareness = data.get("awareness")
        entries = awareness.get("interConnect") if type(awareness) is dict else None
        return len(entries) if type(entries) is list else 0
    built = context.awareness
    return 0 if built is None else pending_count(built)
