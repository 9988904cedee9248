"""The common base of every SOAJS model: frozen, tolerant, secret-safe.

Three properties hold for every model in :mod:`soajs.models`:

* **Tolerant.** A real gateway leaves fields out and adds new ones between
  releases. Every field has a default, unknown fields are kept (reachable as
  attributes and in ``model_dump``), and numbers the gateway sometimes sends
  as strings (ports, versions) are coerced.
* **Immutable.** Models are shared between threads (the registry snapshot,
  cached request contexts), so they are frozen, and the free-form JSON they
  carry (ACLs, custom values, configs) is deep-frozen into :class:`FrozenDict`
  and tuples.
* **Secret-safe.** Secrets are :data:`Secret` fields: masked in ``repr``,
  ``str`` and in ``model_dump`` / ``model_dump_json`` unless the caller asks
  for them on purpose with ``context={"reveal_secrets": True}`` or reads them
  with ``.get_secret_value()``.

Attributes use Python names (``registry_location``); the gateway's wire names
(``registryLocation``) are accepted on input and also work as attribute names
for reading, so code ported from the Node or Go middlewares keeps working.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, ClassVar, NoReturn

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    SecretStr,
    SerializationInfo,
    WithJsonSchema,
)

__all__ = [
    "MASK",
    "FrozenDict",
    "JsonMap",
    "Secret",
    "SecretText",
    "SoajsModel",
    "freeze",
    "mask_credentials",
    "reveals",
]

MASK = "**********"


class FrozenDict(dict[str, Any]):
    """A ``dict`` that refuses every mutation.

    It stays a ``dict`` subclass so that ``json.dumps``, pydantic and user code
    that expects a mapping all keep working; any attempt to change it raises
    :class:`TypeError`.
    """

    __slots__ = ()

    def _readonly(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("SOAJS models are immutable; copy with dict(...) to change a value")

    __setitem__ = _readonly
    __delitem__ = _readonly
    __ior__ = _readonly
    clear = _readonly
    pop = _readonly
    popitem = _readonly
    setdefault = _readonly
    update = _readonly

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (dict(self),))

    def __copy__(self) -> FrozenDict:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenDict:
        return self

    def __repr__(self) -> str:
        return dict.__repr__(self)

    def freeze_all(self) -> FrozenDict:
        """This mapping with every level frozen (already so; see ``LazyFrozenDict``)."""
        return self


_SCALARS = frozenset({str, int, float, bool, type(None)})

#: The one empty FrozenDict every frozen ``{}`` becomes (it is immutable: sharing
#: it is safe), as every frozen ``[]`` is the one empty tuple: a header of
#: ``{},{},...`` then costs a pointer per element, not a new object.
EMPTY: FrozenDict = FrozenDict()


def freeze(value: Any) -> Any:
    """Deep-freeze JSON-like data: dicts become :class:`FrozenDict`, lists tuples.

    One call per container (scalars are not visited), so freezing a decoded
    header costs a small multiple of decoding it.
    """
    kind = type(value)
    if kind is dict:
        if not value:
            return EMPTY
        return FrozenDict({k: (v if type(v) in _SCALARS else freeze(v)) for k, v in value.items()})
    if kind is list or kind is tuple:
        return tuple([v if type(v) in _SCALARS else freeze(v) for v in value])
    if isinstance(value, FrozenDict):
        return value
    if isinstance(value, dict):
        return FrozenDict({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple([freeze(v) for v in value])
    return value


def _validate_json_map(value: Any) -> FrozenDict:
    if isinstance(value, FrozenDict):
        return value
    if isinstance(value, Mapping):
        return FrozenDict({str(k): freeze(v) for k, v in value.items()})
    raise ValueError(f"expected a JSON object, got {type(value).__name__}")


JsonMap = Annotated[
    FrozenDict,
    PlainValidator(_validate_json_map),
    # freeze_all: a lazily frozen map dumps the same (tuples) whatever was read
    PlainSerializer(lambda v: v.freeze_all(), return_type=dict[str, Any]),
    WithJsonSchema({"type": "object"}),
]
"""A free-form JSON object (ACL, config, custom value...), deep-frozen."""


def reveals(info: SerializationInfo) -> bool:
    """True when the dump was asked with ``context={"reveal_secrets": True}``."""
    ctx = info.context
    return isinstance(ctx, Mapping) and bool(ctx.get("reveal_secrets"))


def mask_credentials(value: Any) -> Any:
    """A copy of JSON data with every non-null ``credentials`` value masked."""
    if isinstance(value, Mapping):
        return {
            k: (MASK if k == "credentials" and v is not None else mask_credentials(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [mask_credentials(v) for v in value]
    return value


def _serialize_secret(value: SecretStr, info: SerializationInfo) -> str:
    return value.get_secret_value() if reveals(info) else MASK


Secret = Annotated[SecretStr, PlainSerializer(_serialize_secret, return_type=str)]
"""A secret string: masked everywhere unless revealed on purpose."""


class SecretText(str):
    """A secret that stays a ``str`` for the code that uses it (comparisons, a
    ``key`` header), but prints as ``**********``, like pydantic's ``SecretStr``:
    ``str()``, ``repr()``, f-strings (``{x}``, ``{x!s}``, ``{x:>20}``),
    ``format()``, ``%s`` / ``%r`` (so logging), ``print``, and dumps (see
    :data:`SecretValue`).

    ``get_secret_value()`` reads it on purpose, as with pydantic's ``SecretStr``.

    What a ``str`` subclass cannot mask: operations that read its characters
    rather than call ``__str__`` (``"k=" + x``, ``"".join([x])``, ``x.encode()``,
    slicing, ``json.dumps(x)``). They are how the connector sends the key; never
    use them to log it.
    """

    __slots__ = ()

    def get_secret_value(self) -> str:
        """The secret itself, as a plain ``str``."""
        return str.__str__(self)

    def __repr__(self) -> str:
        return repr(MASK)

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return format(MASK, spec)

    def __reduce__(self) -> tuple[Any, ...]:
        return (SecretText, (str.__str__(self),))


def _secret_text(value: Any) -> SecretText:
    if isinstance(value, str):
        return value if type(value) is SecretText else SecretText(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return SecretText(value)  # numbers are coerced to str, as elsewhere
    raise ValueError(f"expected a string, got {type(value).__name__}")


def _serialize_secret_text(value: SecretText, info: SerializationInfo) -> str:
    return str.__str__(value) if reveals(info) else MASK


SecretValue = Annotated[
    SecretText,
    PlainValidator(_secret_text),
    PlainSerializer(_serialize_secret_text, return_type=str),
    WithJsonSchema({"type": "string", "writeOnly": True}),
]
"""A secret kept as a :class:`SecretText`: masked in ``repr`` and dumps unless revealed."""


def mask_values(value: Any) -> Any:
    """A copy of JSON data with its structure kept and every non-null scalar masked."""
    if isinstance(value, Mapping):
        return {k: mask_values(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_values(v) for v in value]
    return None if value is None else MASK


_FrozenAny = Annotated[Any, PlainValidator(freeze)]


class SoajsModel(BaseModel):
    """Base of all SOAJS models (see the module docstring)."""

    model_config = ConfigDict(
        frozen=True,
        extra="allow",
        populate_by_name=True,
        coerce_numbers_to_str=True,
        serialize_by_alias=True,
        hide_input_in_errors=True,
    )

    # Extra read-only names for fields, on top of the wire aliases
    # (e.g. {"core_db": "core_dbs"}). Resolved only when normal lookup fails.
    _synonyms: ClassVar[dict[str, str]] = {}
    _attr_names: ClassVar[dict[str, str]] = {}

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        names: dict[str, str] = {}
        for field_name, info in cls.model_fields.items():
            for alias in _aliases_of(info.alias, info.validation_alias):
                if alias != field_name:
                    names[alias] = field_name
        names.update(cls._synonyms)
        cls._attr_names = names

    # Unknown fields are kept, deep-frozen as they are validated: a typed
    # ``__pydantic_extra__`` costs nothing when there are none, where a
    # ``model_post_init`` would be a Python call for every instance.
    __pydantic_extra__: dict[str, _FrozenAny] = Field(init=False)

    def __getattr__(self, name: str) -> Any:
        target = type(self)._attr_names.get(name)
        if target is not None:
            return getattr(self, target)
        return super().__getattr__(name)  # type: ignore[misc]


def _aliases_of(alias: str | None, validation_alias: Any) -> Iterable[str]:
    if alias:
        yield alias
    choices = getattr(validation_alias, "choices", None)
    if choices is not None:
        for choice in choices:
            if isinstance(choice, str):
                yield choice
    elif isinstance(validation_alias, str):
        yield validation_alias
