"""A request context whose fields are built on first read.

The parser checks a header completely when it parses it (every typed value,
in C: :mod:`soajs.context.check`), so it knows the context is valid and what
its reason is; building the models can then wait until something reads
them, and a handler that never reads ``urac`` or ``awareness`` never pays for
them. The :class:`~soajs.models.ContextData` keeps, in its private
``_deferred``, the decoded header and the function that builds one field from
it; a field is absent from the instance ``__dict__`` until built.

Every way to read a field builds it first: attribute access (``__getattr__``,
called only when the field is absent), serialization (a wrap model
serializer: ``model_dump``, ``model_dump_json``, a FastAPI response, nested
or not: all fields), ``==``, ``repr``, ``hash`` and iteration (all fields).
Copies and pickles carry ``_deferred`` along.

Thread safety: a built field is stored with ``dict.setdefault`` (atomic), so
racing readers all get the first one stored; ``_deferred`` is cleared only
once every field is stored, and the decoded header is never handed out (the
free-form maps built from it are lazily frozen views that never change it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

__all__ = ["KEY", "Deferred", "deferred_data", "ready", "ready_all"]

KEY = "_deferred"
_set_dict = BaseModel.__dict__["__dict__"].__set__

#: ``(build, data)``: ``build(data, field_name)`` gives the field's value
Deferred = tuple[Callable[[Any, str], Any], Any]


def ready(model: BaseModel, name: str) -> Any:
    """Field ``name`` of ``model``, built now if it was deferred."""
    fields = model.__dict__
    try:
        return fields[name]
    except KeyError:
        pass
    private = model.__pydantic_private__ or {}
    deferred: Deferred | None = private.get(KEY)
    if deferred is None:  # cleared by ready_all, which stored every field first
        return fields[name]
    build, data = deferred
    return fields.setdefault(name, build(data, name))


def ready_all(model: BaseModel) -> None:
    """Every field of ``model`` built (then nothing is deferred any more)."""
    private = model.__pydantic_private__
    if not private or private.get(KEY) is None:
        return
    names = type(model).model_fields
    for name in names:
        ready(model, name)
    # Fields were stored in read order; pydantic's serializer follows the instance
    # dict's order, so it is put back in field order: a new dict, swapped in whole
    # (a racing ready() that still holds the old one finds every field in it).
    fields = model.__dict__
    ordered = {name: fields[name] for name in names}
    ordered.update((k, v) for k, v in fields.items() if k not in ordered)
    _set_dict(model, ordered)
    private[KEY] = None


def deferred_data(model: BaseModel) -> Any:
    """The decoded header still kept for fields not built yet (else ``None``)."""
    private = model.__pydantic_private__ or {}
    deferred: Deferred | None = private.get(KEY)
    return None if deferred is None else deferred[1]
