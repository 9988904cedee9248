"""``awareness.interConnect`` entries checked when parsed, built on first read.

A request context may list up to 256 services in ``awareness.interConnect``;
each becomes a typed :class:`~soajs.models.InterConnect` (about 0.8 µs and
1 KB each), and most handlers never read them (the connector does, when a
handler calls another service). The context's fast path
(:mod:`soajs.context.fastpath`) checks the entries when it parses the header
(in C, with msgspec: a header whose entries the models would refuse is
refused then, with the same reason as ever) and leaves the decoded list in
the :class:`~soajs.models.Awareness`'s private ``_pending``; the field itself
is absent from the instance ``__dict__`` until first read.

Every way to read the field builds it first, with pydantic's own validation
(so the values are exactly what eager validation gives): attribute access
(``awareness.inter_connect`` / ``interConnect``: ``__getattr__``, called
only when the field is absent), serialization (a wrap model serializer: every
``model_dump``, ``model_dump_json``, FastAPI response, nested or not),
``==``, ``repr``, ``hash`` and iteration. Pickling and copying carry
``_pending`` along.

Thread safety: the built tuple is stored with ``dict.setdefault`` (atomic), so
racing readers all get the first one stored; ``_pending`` is cleared only
after the field is stored, and the decoded list is never handed out.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel, TypeAdapter

__all__ = ["FIELD", "pending_count", "ready"]

FIELD = "inter_connect"


@cache
def _adapter(model: type[BaseModel]) -> TypeAdapter[Any]:
    annotation: Any = model.model_fields[FIELD].annotation
    return TypeAdapter(annotation)


def ready(model: BaseModel) -> Any:
    """The field's value, built now if it was pending."""
    fields = model.__dict__
    try:
        return fields[FIELD]
    except KeyError:
        pass
    private = model.__pydantic_private__ or {}
    built = _adapter(type(model)).validate_python(private.get("_pending"))
    value = fields.setdefault(FIELD, built)
    private["_pending"] = None  # after the store: a racing reader finds the field
    return value


def pending_count(model: BaseModel) -> int:
    """The number of entries, built or pending, without building them."""
    value = model.__dict__.get(FIELD)
    if value is None:
        private = model.__pydantic_private__ or {}
        value = private.get("_pending")
    return len(value) if value else 0
