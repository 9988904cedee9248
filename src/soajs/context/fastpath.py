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
from urllib.parse import unquote, unquote_to_bytes

import msgspec
from pydantic import BaseModel

from soajs.models._base import EMPTY, SecretText, freeze
from soajs.models._deferred import KEY, deferred_data
from soajs.models._lazy import LazyFrozenDict
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


class Fallback(Exception):
    """This header needs pydantic's validation (coercion, or a reason to refuse it)."""


_FALLBACK = Fallback()
_MISSING = object()
_new = object.__new__
# the slots every pydantic model has, set as model_construct does (without its overhead)
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
# (SoajsModel's ``__pydantic_extra__`` annotation shadows the slot: pydantic, too,
# stores the extras in the instance ``__dict__``, after the fields)
_EXTRA = "__pydantic_extra__"
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__
_Check = Callable[[Any], Any]


# -- checks: the value as the model stores it, or Fallback -------------------------------
def _str(value: Any) -> Any:
    if type(value) is str:
        return value
    raise _FALLBACK


def _opt_str(value: Any) -> Any:
    if value is None or type(value) is str:
        return value
    raise _FALLBACK


def _opt_bool(value: Any) -> Any:
    if value is None or value is True or value is False:
        return value
    raise _FALLBACK


def _opt_int(value: Any) -> Any:
    if value is None or type(value) is int:
        return value
    raise _FALLBACK


def _map(value: Any) -> Any:
    if type(value) is dict:
        return LazyFrozenDict(value) if value else EMPTY
    raise _FALLBACK


def _opt_map(value: Any) -> Any:
    return None if value is None else _map(value)


def _str_or_map(value: Any) -> Any:
    return value if type(value) is str else _opt_map(value)


def _secret(value: Any) -> Any:
    if value is None:
        return None
    if type(value) is str:
        return SecretText(value)
    raise _FALLBACK


def _strings(value: Any) -> Any:
    if type(value) is list:
        try:
            "".join(value)  # C-level: refuses anything but str
        except TypeError:
            raise _FALLBACK from None
        return tuple(value)
    raise _FALLBACK


class _InterConnectCheck(msgspec.Struct, gc=False):
    """What :class:`InterConnect` accepts without coercion (unknown keys are kept by it).

    Thrown away once checked; untracked by the garbage collector (it holds only
    strings and ints), so checking 256 entries does not bring a collection closer.
    """

    name: str = ""
    version: str | None = None
    host: str = ""
    port: int | None = None
    latest: str | None = None


_check_entries = msgspec.convert
_ENTRIES = list[_InterConnectCheck]


def _pending_entries(value: Any) -> Any:
    if value is None:
        return None
    if type(value) is list:
        try:
            _check_entries(value, _ENTRIES, strict=True)
        except (msgspec.ValidationError, TypeError, ValueError, RecursionError):
            raise _FALLBACK from None
        return value
    raise _FALLBACK


#: the checks written into the generated builders as expressions (True: refuse)
_INLINE: dict[_Check, str] = {
    _opt_str: "v is not None and type(v) is not str",
    _opt_bool: "v is not None and v is not True and v is not False",
    _opt_int: "v is not None and type(v) is not int",
    _str: "type(v) is not str",
}


# -- the models -------------------------------------------------------------------------
class _Spec:
    """How to build one model from a decoded object: its wire keys, checks and defaults."""

    def __init__(self, model: type[BaseModel], checks: dict[str, _Check]) -> None:
        if set(checks) != set(model.model_fields):  # every field, and only those
            raise TypeError(f"{model.__name__}: checks for {sorted(checks)}")
        self.model = model
        self.keys: dict[str, tuple[str, _Check | None]] = {}
        self.names: dict[str, str] = {}  # wire key -> field name
        self.defaults: dict[str, Any] = {}
        self.other_names: set[str] = set()  # Python names that differ from the wire's
        self.required: list[str] = []
        for name, info in model.model_fields.items():
            check = checks[name]
            self.keys[info.alias or name] = (name, None if check is _opt_str else check)
            self.names[info.alias or name] = name
            if info.alias and info.alias != name:
                self.other_names.add(name)
            if info.is_required():
                self.required.append(name)
                self.defaults[name] = _MISSING  # keeps the field order
            else:
                self.defaults[name] = info.get_default(call_default_factory=True)
        self.private: dict[str, Any] | None = (
            {name: attr.get_default() for name, attr in model.__private_attributes__.items()}
            if model.__private_attributes__
            else None
        )

        self.known = frozenset(self.keys)
        self.build: Callable[..., Any] = self._compile(checks)

    def _compile(self, checks: dict[str, _Check]) -> Callable[..., Any]:
        """``build(data, private=None)``: straight-line code for this model (one look-up
        and an inlined type check per field, no loop, no call for the common checks)
        when every key of ``data`` is a known wire key; :meth:`general` otherwise."""
        env: dict[str, Any] = {
            "F": _FALLBACK, "M": _MISSING, "new": _new, "model_cls": self.model,
            "set_fs": _set_fields_set, "set_dict": _set_dict, "set_private": _set_private,
            "known": self.known, "general": self.general, "names": self.names,
            "private_default": self.private,
        }  # fmt: skip
        lines = [
            "def build(data, private=None):",
            "    if not known.issuperset(data):",
            "        return general(data, private)",
            "    g = data.get",
        ]
        entries = []
        for i, (name, info) in enumerate(self.model.model_fields.items()):
            wire, check, default = info.alias or name, checks[name], self.defaults[name]
            env[f"d{i}"], env[f"c{i}"] = default, check
            inline = _INLINE.get(check)
            if inline is not None and default is None:
                lines += [f"    v = g({wire!r})", f"    if {inline}:", "        raise F"]
            elif inline is not None:  # required, or a non-None default
                lines += [f"    v = g({wire!r}, d{i})", f"    if {inline}:", "        raise F"]
            else:
                lines += [
                    f"    v = g({wire!r}, M)",
                    f"    v = d{i} if v is M else c{i}(v)",
                ]
            lines.append(f"    v{i} = v")
            entries.append(f"{name!r}: v{i}")
        fields_set = "set(data)" if all(k == n for k, n in self.names.items()) else (
            "set(map(names.__getitem__, data))"
        )  # fmt: skip
        lines += [
            "    model = new(model_cls)",
            f"    set_fs(model, {fields_set})",
            "    set_dict(model, {" + ", ".join(entries) + f", {_EXTRA!r}: {{}}}})",
            "    if private is None and private_default is not None:",
            "        private = private_default.copy()",
            "    set_private(model, private)",
            "    return model",
        ]
        exec("\n".join(lines), env)  # noqa: S102 - generated from the model's own fields
        built: Callable[..., Any] = env["build"]
        return built

    def general(self, data: dict[str, Any], private: dict[str, Any] | None = None) -> Any:
        """Any keys: unknown ones kept as extras (frozen), Python names left to pydantic."""
        fields = self.defaults.copy()  # field order, as pydantic's __dict__
        keys = self.keys
        extra: dict[str, Any] | None = None
        for key, value in data.items():
            known = keys.get(key)
            if known is None:
                if key in self.other_names:
                    raise _FALLBACK
                if extra is None:
                    extra = {}
                extra[key] = freeze(value)  # as the extras' validator does
                continue
            name, check = known
            if check is None:  # str | None, the most common: inlined
                if value is not None and type(value) is not str:
                    raise _FALLBACK
                fields[name] = value
            else:
                fields[name] = check(value)
        for name in self.required:
            if fields[name] is _MISSING:
                raise _FALLBACK
        model = _new(self.model)
        if extra is None:
            fields[_EXTRA] = {}
            _set_fields_set(model, set(map(self.names.__getitem__, data)))
        else:
            fields[_EXTRA] = extra
            _set_fields_set(model, {self.names.get(k, k) for k in data})
        _set_dict(model, fields)
        if private is None and self.private is not None:
            private = self.private.copy()
        _set_private(model, private)
        return model


def _model(spec: _Spec, optional: bool) -> _Check:
    def check(value: Any) -> Any:
        if type(value) is dict:
            return spec.build(value)
        if value is None and optional:
            return None
        raise _FALLBACK

    return check


_REF = _Spec(TenantRef, {"id": _opt_str, "code": _opt_str})
_KEY = _Spec(Key, {"i_key": _secret, "e_key": _secret})
_APPLICATION = _Spec(
    Application,
    {"product": _opt_str, "package": _opt_str, "app_id": _opt_str, "acl": _opt_map,
     "acl_all_env": _opt_map, "package_acl": _opt_map, "package_acl_all_env": _opt_map},
)  # fmt: skip
_TENANT = _Spec(
    Tenant,
    {"id": _str, "code": _str, "name": _opt_str, "type": _opt_str, "locked": _opt_bool,
     "roaming": freeze, "main": _model(_REF, True), "profile": _opt_map,
     "key": _model(_KEY, False), "application": _model(_APPLICATION, False)},
)  # fmt: skip
_URAC = _Spec(
    Urac,
    {"id": _opt_str, "username": _opt_str, "first_name": _opt_str, "last_name": _opt_str,
     "email": _opt_str, "groups": _strings, "tenant": _model(_REF, True), "profile": _opt_map,
     "acl": _opt_map, "acl_all_env": _opt_map, "config": _opt_map, "groups_config": _opt_map,
     "social_login": _opt_map},
)  # fmt: skip
# interConnect is checked, not built: the check returns the decoded list, moved to
# the private ``_pending`` below (the field stays absent until read)
_AWARENESS = _Spec(
    Awareness, {"host": _opt_str, "port": _opt_int, "inter_connect": _pending_entries}
)
_CONTEXT_FIELDS = frozenset(ContextData.model_fields)
_CONTEXT_PRIVATE = {name: None for name in ContextData.__private_attributes__}
_DEFERRED = KEY
_INTER_CONNECT = "inter_connect"


def _awareness(value: Any) -> Any:
    if value is None:
        return None
    if type(value) is not dict:
        raise _FALLBACK
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
                # unquote() of an ASCII text is this, without its per-call set-up
                text = (
                    unquote_to_bytes(value).decode("utf-8")
                    if value.isascii()
                    else unquote(value, errors="strict")
                )
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
        raise _FALLBACK
    return _URAC.build(decode_names(urac))


def _services_config(data: dict[str, Any]) -> Any:
    config = obj(data.get("key")).get("config")
    return EMPTY if config is None else _map(config)


#: one builder per ContextData field, from the decoded header (as the parser folds it)
_FIELD_BUILDERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "tenant": _tenant,
    "urac": _urac,
    "services_config": _services_config,
    "device": lambda data: _str_or_map(data.get("device")),
    "geo": lambda data: _opt_map(data.get("geo")),
    "awareness": lambda data: _awareness(data.get("awareness")),
    "param": lambda data: _opt_map(data.get("param")),
}
if list(_FIELD_BUILDERS) != list(ContextData.model_fields):  # every field, in order
    raise TypeError(f"ContextData fields changed: {list(ContextData.model_fields)}")


def _context(fields: dict[str, Any], deferred: Any) -> ContextData:
    context = _new(ContextData)
    fields[_EXTRA] = {}
    _set_dict(context, fields)
    _set_fields_set(context, set(_CONTEXT_FIELDS))
    private = dict(_CONTEXT_PRIVATE)
    private[_DEFERRED] = deferred
    _set_private(context, private)
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
