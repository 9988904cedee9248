"""Deep-frozen JSON that is frozen level by level, on first read.

A request context carries the header's free-form JSON (ACLs, key config,
profile...). Freezing all of it eagerly costs more than decoding it, and most
handlers never look at most of it. :class:`LazyFrozenDict` is a
:class:`~soajs.models.FrozenDict` built from a plain ``dict`` straight out of
the JSON decoder (one C-level copy). Its nested ``dict`` and ``list`` values
are replaced by a ``LazyFrozenDict`` / a ``tuple`` the first time they are
read, so they are frozen exactly when, and as deep as, someone looks.

Nothing mutable ever gets out:

* every read path that hands out values freezes them first: ``[]``, ``get``,
  ``values``, ``items``, ``copy``, ``|``, ``==``, ``repr``, pickling;
* ``__iter__`` is overridden, which makes CPython's ``dict(x)``, ``{**x}``,
  ``f(**x)``, ``x | y`` and ``dict.copy`` take their generic path (``keys()``
  then ``x[key]``) instead of reading the storage directly;
* ``json.dumps`` calls ``items()`` on a dict subclass; ``model_dump`` freezes
  every level first (:meth:`LazyFrozenDict.freeze_all`, so a dump is the same,
  tuples included, whatever was read before) and copies what it reads. Only a
  deliberate ``dict.__getitem__(x, k)`` bypasses the freezing.

Only fields typed as a JSON map are frozen lazily; the parser freezes other
free-form values (unknown fields, ``Any`` fields) eagerly, as they are small
and serialized without a JSON-map serializer.

Thread safety: a read stores the frozen value back in place of the raw one
(an existing key: the dict does not change size or order). Two threads may
freeze the same value at once; both get an equal immutable object and one of
them stays stored. The raw values are never mutated by anyone (no reference
to them escapes), so a racing reader never sees a half-built value. Single
dict operations are atomic under the GIL and thread-safe on free-threaded
CPython, which is all this relies on.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from soajs.models._base import EMPTY, FrozenDict

__all__ = ["LazyFrozenDict", "freeze_lazily"]


def freeze_lazily(value: Any) -> Any:
    """Decoded JSON made immutable: a ``dict`` becomes a :class:`LazyFrozenDict`
    (its contents frozen on read; ``{}`` the shared empty ``FrozenDict``), a
    ``list`` a ``tuple`` (of values frozen the same way); anything else, frozen
    ones included, is returned as is."""
    kind = type(value)
    if kind is dict:
        return LazyFrozenDict(value) if value else EMPTY
    if kind is list:
        return tuple([freeze_lazily(item) for item in value])
    return value


_setitem = dict.__setitem__
_getitem = dict.__getitem__


class LazyFrozenDict(FrozenDict):
    """A :class:`FrozenDict` whose nested JSON is frozen on first read (module docstring)."""

    __slots__ = ()

    #: how a nested value is frozen when read (a subclass keeps its kind for its children)
    _child = staticmethod(freeze_lazily)

    def _level(self) -> None:
        """Freeze every value of this level (not deeper: those freeze on their own reads)."""
        child = self._child
        for key, value in dict.items(self):
            kind = type(value)
            if kind is dict or kind is list:
                _setitem(self, key, child(value))

    def freeze_all(self) -> LazyFrozenDict:
        """Freeze every level now (before a dump, so it is the same whatever was read)."""
        stack: list[Any] = [self]
        while stack:
            node = stack.pop()
            if isinstance(node, LazyFrozenDict):
                node._level()
                stack.extend(dict.values(node))
            elif type(node) is tuple:
                stack.extend(node)
        return self

    def __getitem__(self, key: str) -> Any:
        value = _getitem(self, key)
        kind = type(value)
        if kind is dict or kind is list:
            value = self._child(value)
            _setitem(self, key, value)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __iter__(self) -> Iterator[str]:
        return dict.__iter__(self)

    def values(self) -> Any:
        self._level()
        return dict.values(self)

    def items(self) -> Any:
        self._level()
        return dict.items(self)

    def copy(self) -> dict[str, Any]:
        self._level()
        return dict(dict.items(self))

    def __or__(self, other: Any) -> Any:
        self._level()
        return dict.__or__(self, other)

    def __ror__(self, other: Any) -> Any:
        self._level()
        return dict.__ror__(self, other)

    def __eq__(self, other: object) -> bool:
        self._level()
        if isinstance(other, LazyFrozenDict):
            other._level()
        return dict.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        self._level()
        return dict.__repr__(self)

    def __reduce__(self) -> tuple[Any, ...]:
        self._level()
        return (FrozenDict, (dict(dict.items(self)),))
