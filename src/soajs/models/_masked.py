"""Free-form maps that print masked: the key's config, and the user's secrets by name.

Two kinds of :class:`~soajs.models._lazy.LazyFrozenDict`, read exactly as one
(``m["k"]``, ``get``, ``items()``, ``dict(m)``, ``json.dumps(m)``: the values
themselves, on purpose), whose ``repr`` and ``str`` (so ``%s`` logging,
f-strings, ``print``, and the ``repr`` of the model holding them) show the
structure with values masked, like the registry's secrets:

* :class:`MaskedMap` masks every value: ``ContextData.services_config``
  (``key.config``, third-party credentials, often);
* :class:`NameMaskedMap` masks the values under keys named like secrets
  (:data:`SECRET_NAME`: ``password``, ``accessToken``, ``refresh_token``,
  ``apiKey``, ``secret``...), at any depth: the maps of ``urac``
  (``socialLogin`` holds the providers' tokens; ``config``, ``profile``...).

Their children (nested objects, also inside arrays) are frozen into the same
kind when read, so ``repr(ctx.services_config["mail"])`` is masked too. A
scalar read is the scalar (read on purpose). Dumps are masked by the models'
serializers (unless ``context={"reveal_secrets": True}``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

from soajs.models._base import EMPTY, MASK, FrozenDict, mask_values
from soajs.models._lazy import LazyFrozenDict

__all__ = [
    "SECRET_NAME",
    "MaskedJsonMap",
    "MaskedMap",
    "NameMaskedJsonMap",
    "NameMaskedMap",
    "freeze_masked",
    "freeze_name_masked",
    "is_secret_name",
    "mask_named",
]

#: A key whose value is masked in the ``repr`` and dumps of ``urac`` (case-insensitive,
#: anywhere in the name): passwords, tokens, API and private keys, secrets, credentials.
SECRET_NAME = re.compile(
    r"pass(word|wd|phrase)|^pwd$|secret|token|api_?key|private_?key|credential"
    r"|^authorization$|cookie|session_?(id|key)",
    re.IGNORECASE,
)


def is_secret_name(name: object) -> bool:
    """True when a value under ``name`` is masked by name."""
    return isinstance(name, str) and SECRET_NAME.search(name) is not None


def mask_named(value: Any) -> Any:
    """A copy of JSON data with the values under secret-like keys masked (at any depth)."""
    if isinstance(value, Mapping):
        return {
            k: (MASK if v is not None and is_secret_name(k) else mask_named(v))
            for k, v in value.items()
        }
    if isinstance(value, tuple):  # a python-mode dump keeps frozen arrays as tuples
        return tuple([mask_named(v) for v in value])
    if isinstance(value, list):
        return [mask_named(v) for v in value]
    return value


def _freeze_as(kind: type[LazyFrozenDict], value: Any) -> Any:
    if isinstance(value, kind):
        return value
    if type(value) is dict:  # straight from the decoder: frozen lazily
        return kind(value) if value else EMPTY
    if isinstance(value, Mapping):  # frozen already, perhaps as another kind: now
        return kind({k: _freeze_as(kind, v) for k, v in value.items()}) if value else EMPTY
    if isinstance(value, list | tuple):
        return tuple([_freeze_as(kind, item) for item in value])
    return value


def freeze_masked(value: Any) -> Any:
    """Decoded JSON frozen lazily, objects as :class:`MaskedMap` (any depth)."""
    return _freeze_as(MaskedMap, value)


def freeze_name_masked(value: Any) -> Any:
    """Decoded JSON frozen lazily, objects as :class:`NameMaskedMap` (any depth)."""
    return _freeze_as(NameMaskedMap, value)


class MaskedMap(LazyFrozenDict):
    """A lazily frozen map whose ``repr`` masks every value (module docstring)."""

    __slots__ = ()
    _child = staticmethod(freeze_masked)

    def __repr__(self) -> str:
        return repr(mask_values(self))

    def __reduce__(self) -> tuple[Any, ...]:
        return (freeze_masked, (dict(self.items()),))


class NameMaskedMap(LazyFrozenDict):
    """A lazily frozen map whose ``repr`` masks values under secret-like keys."""

    __slots__ = ()
    _child = staticmethod(freeze_name_masked)

    def __repr__(self) -> str:
        return repr(mask_named(self))

    def __reduce__(self) -> tuple[Any, ...]:
        return (freeze_name_masked, (dict(self.items()),))


def _validate(kind: type[LazyFrozenDict]) -> Any:
    def validate(value: Any) -> FrozenDict:
        if isinstance(value, Mapping):
            frozen: FrozenDict = _freeze_as(kind, value)
            return frozen
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")

    return validate


validate_masked = _validate(MaskedMap)
validate_name_masked = _validate(NameMaskedMap)


def _dump_all(value: FrozenDict) -> FrozenDict:
    return value.freeze_all()  # a lazily frozen map dumps the same whatever was read


MaskedJsonMap = Annotated[
    FrozenDict,
    PlainValidator(validate_masked),
    PlainSerializer(_dump_all, return_type=dict[str, Any]),
    WithJsonSchema({"type": "object"}),
]
"""A free-form JSON object whose ``repr`` masks every value (:class:`MaskedMap`)."""

NameMaskedJsonMap = Annotated[
    FrozenDict,
    PlainValidator(validate_name_masked),
    PlainSerializer(_dump_all, return_type=dict[str, Any]),
    WithJsonSchema({"type": "object"}),
]
"""A free-form JSON object whose ``repr`` masks secret-like keys (:class:`NameMaskedMap`)."""
