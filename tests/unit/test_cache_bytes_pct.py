"""Percent-encoded headers are charged what their decoded JSON holds.

Red-team finding 3 (issue 12): the charge used one byte a character when the
KEY (the raw header) was ASCII without a backslash; a ``%7B...`` header whose
strings hold ``%F0%9F%98%80`` (an emoji) or ``%5C`` (a backslash escape)
decodes to strings stored four bytes a character: 100 such 64 KiB headers
were charged 13.4 MiB while holding 31.7 MiB, and 2,000 of them took a
uvicorn worker 100 MiB over a 32 MiB budget.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote_from_bytes

import pytest
from benchmarks._hostile import PERCENT_SHAPES, PLAIN_ACCEPTED, hostile_header
from benchmarks._sizes import deep_size
from pydantic import BaseModel

from soajs.context import parse_inject_header
from soajs.context.cache import ContextCache, entry_cost
from soajs.models import ContextData
from soajs.models._lazy import LazyFrozenDict

FIELDS = list(ContextData.model_fields)


def fully_encoded(raw: bytes) -> str:
    """Every byte but the letters and digits percent-encoded (``{`` becomes ``%7B``)."""
    return quote_from_bytes(raw, safe="")


def _freeze_everything(value: Any) -> None:
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, LazyFrozenDict):
            node.freeze_all()
        elif isinstance(node, BaseModel):  # interConnect entries built too
            stack.extend(getattr(node, name) for name in type(node).model_fields)
            stack.extend((node.__pydantic_extra__ or {}).values())
        elif isinstance(node, tuple):
            stack.extend(node)


def held_at_worst(raw: bytes) -> tuple[int, Any]:
    """The most a context of ``raw`` holds: every field built and fully frozen, and
    also every field but one (the decoded header then still kept beside them)."""
    worst = 0
    result = None
    for unread in [None, *FIELDS]:
        result = parse_inject_header([raw], 65536)
        assert result.context is not None, result
        for name in FIELDS:
            if name != unread:
                _freeze_everything(getattr(result.context, name))
        held = deep_size(result.context, read_all=False)
        worst = max(worst, held, deep_size(result.context))
    return worst + len(raw), result


@pytest.mark.parametrize("shape", PERCENT_SHAPES)
def test_a_percent_encoded_hostile_header_is_charged_what_it_holds(shape: str) -> None:
    raw = hostile_header(shape, 65536)
    assert raw.startswith(b"%7B") and raw.isascii() and len(raw) <= 65536
    held, result = held_at_worst(raw)
    assert held <= entry_cost(raw, result), (shape, held, entry_cost(raw, result))


@pytest.mark.parametrize("shape", PLAIN_ACCEPTED)
def test_every_shape_percent_encoded_is_charged_what_it_holds(shape: str) -> None:
    for raw in (
        b"%7B" + hostile_header(shape, 16384)[1:],  # only the brace: the rest as is
        fully_encoded(hostile_header(shape, 21000)).encode(),  # every byte
    ):
        held, result = held_at_worst(raw)
        assert held <= entry_cost(raw, result), (shape, raw[:12], held)


@pytest.mark.parametrize("shape", PLAIN_ACCEPTED)
def test_plain_shapes_are_charged_what_they_hold_even_half_read(shape: str) -> None:
    raw = hostile_header(shape, 65536)
    held, result = held_at_worst(raw)
    assert held <= entry_cost(raw, result), (shape, held)


def test_a_budget_holds_percent_encoded_headers_within_it() -> None:
    """100 distinct wide ones in a 4 MiB cache: what it holds stays under 4 MiB."""
    cache = ContextCache(1024, max_bytes=4 * 1024 * 1024)
    kept = []
    for nonce in range(100):
        raw = hostile_header("pct_wide_string", 65536, nonce)
        result = parse_inject_header([raw], 65536)
        cache.put(raw, result)
        kept.append((raw, result))
    cached = [(k, r) for k, r in kept if cache.get(k) is r]
    assert cached
    held = sum(held_at_worst(k)[0] for k, _ in cached)
    assert held <= cache.max_bytes, (len(cached), held)
