"""Building one model from a decoded object as pydantic would, or saying it cannot.

Used by :mod:`soajs.context.fastpath`: per model, a :class:`ModelSpec` lists
the check of every field (the value as the model stores it, or
:class:`Fallback` for anything that needs pydantic: coercion, a refusal)
and compiles a straight-line builder that fills the instance as
``model_validate`` does (``__dict__`` in field order with the defaults,
fields set, extras frozen once, private attributes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
from pydantic import BaseModel

from soajs.models._base import EMPTY, SecretText, freeze
from soajs.models._lazy import LazyFrozenDict

__all__ = [
    "EXTRA",
    "FALLBACK",
    "Fallback",
    "ModelSpec",
    "map_",
    "model_check",
    "new",
    "opt_bool",
    "opt_int",
    "opt_map",
    "opt_str",
    "pending_entries",
    "req_str",
    "secret",
    "set_dict",
    "set_fields_set",
    "set_private",
    "str_or_map",
    "strings",
]


class Fallback(Exception):
    """This header needs pydantic's validation (coercion, or a reason to refuse it)."""


FALLBACK = Fallback()
MISSING = object()
new = object.__new__
# the slots every pydantic model has, set as model_construct does (without its overhead)
set_dict = BaseModel.__dict__["__dict__"].__set__
set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
# (SoajsModel's ``__pydantic_extra__`` annotation shadows the slot: pydantic, too,
# stores the extras in the instance ``__dict__``, after the fields)
EXTRA = "__pydantic_extra__"
set_private = BaseModel.__dict__["__pydantic_private__"].__set__
_Check = Callable[[Any], Any]


# -- checks: the value as the model stores it, or Fallback -------------------------------
def req_str(value: Any) -> Any:
    if type(value) is str:
        return value
    raise FALLBACK


def opt_str(value: Any) -> Any:
    if value is None or type(value) is str:
        return value
    raise FALLBACK


def opt_bool(value: Any) -> Any:
    if value is None or value is True or value is False:
        return value
    raise FALLBACK


def opt_int(value: Any) -> Any:
    if value is None or type(value) is int:
        return value
    raise FALLBACK


def map_(value: Any) -> Any:
    if type(value) is dict:
        return LazyFrozenDict(value) if value else EMPTY
    raise FALLBACK


def opt_map(value: Any) -> Any:
    return None if value is None else map_(value)


def str_or_map(value: Any) -> Any:
    return value if type(value) is str else opt_map(value)


def secret(value: Any) -> Any:
    if value is None:
        return None
    if type(value) is str:
        return SecretText(value)
    raise FALLBACK


def strings(value: Any) -> Any:
    if type(value) is list:
        try:
            "".join(value)  # C-level: refuses anything but str
        except TypeError:
            raise FALLBACK from None
        return tuple(value)
    raise FALLBACK


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


def pending_entries(value: Any) -> Any:
    if value is None:
        return None
    if type(value) is list:
        try:
            _check_entries(value, _ENTRIES, strict=True)
        except (msgspec.ValidationError, TypeError, ValueError, RecursionError):
            raise FALLBACK from None
        return value
    raise FALLBACK


#: the checks written into the generated builders as expressions (True: refuse)
_INLINE: dict[_Check, str] = {
    opt_str: "v is not None and type(v) is not str",
    opt_bool: "v is not None and v is not True and v is not False",
    opt_int: "v is not None and type(v) is not int",
    req_str: "type(v) is not str",
}


# -- the models -------------------------------------------------------------------------
class ModelSpec:
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
            self.keys[info.alias or name] = (name, None if check is opt_str else check)
            self.names[info.alias or name] = name
            if info.alias and info.alias != name:
                self.other_names.add(name)
            if info.is_required():
                self.required.append(name)
                self.defaults[name] = MISSING  # keeps the field order
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
            "F": FALLBACK, "M": MISSING, "new": new, "model_cls": self.model,
            "set_fs": set_fields_set, "set_dict": set_dict, "set_private": set_private,
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
            "    set_dict(model, {" + ", ".join(entries) + f", {EXTRA!r}: {{}}}})",
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
                    raise FALLBACK
                if extra is None:
                    extra = {}
                extra[key] = freeze(value)  # as the extras' validator does
                continue
            name, check = known
            if check is None:  # str | None, the most common: inlined
                if value is not None and type(value) is not str:
                    raise FALLBACK
                fields[name] = value
            else:
                fields[name] = check(value)
        for name in self.required:
            if fields[name] is MISSING:
                raise FALLBACK
        model = new(self.model)
        if extra is None:
            fields[EXTRA] = {}
            set_fields_set(model, set(map(self.names.__getitem__, data)))
        else:
            fields[EXTRA] = extra
            set_fields_set(model, {self.names.get(k, k) for k in data})
        set_dict(model, fields)
        if private is None and self.private is not None:
            private = self.private.copy()
        set_private(model, private)
        return model


def model_check(spec: ModelSpec, optional: bool) -> _Check:
    def check(value: Any) -> Any:
        if type(value) is dict:
            return spec.build(value)
        if value is None and optional:
            return None
        raise FALLBACK

    return check
