"""The memory a parsed context holds, measured by walking it (``sys.getsizeof``).

By default every field built on first read is built and every lazily frozen
level is frozen first (what a handler reading everything leaves behind); with
``read_all=False`` the context is walked as it is (fields not built yet are
the decoded header it keeps). Objects shared inside the context (cached short
strings, small ints) count once.
"""

from __future__ import annotations

import sys
from typing import Any

from pydantic import BaseModel

from soajs.models._deferred import ready_all
from soajs.models._lazy import LazyFrozenDict

__all__ = ["deep_size"]

_MODEL_PARTS = ("__dict__", "__pydantic_extra__", "__pydantic_fields_set__", "__pydantic_private__")


def deep_size(root: Any, read_all: bool = True) -> int:
    """Bytes held by ``root`` and everything it reaches (models, dicts, tuples, scalars)."""
    seen: set[int] = set()
    stack: list[Any] = [root]
    total = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or obj is None or obj is True or obj is False:
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, BaseModel):
            if read_all:
                for name in type(obj).model_fields:
                    getattr(obj, name)  # builds what is built on first read
                ready_all(obj)
            stack.extend(getattr(obj, part, None) for part in _MODEL_PARTS)
        elif isinstance(obj, dict):
            if isinstance(obj, LazyFrozenDict) and read_all:
                obj.freeze_all()
            stack.extend(dict.keys(obj))
            stack.extend(dict.values(obj))
        elif isinstance(obj, list | tuple | set | frozenset):
            stack.extend(obj)
    return total
