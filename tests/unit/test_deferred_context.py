"""A checked header's context builds its fields on first read, by whatever reads them.

Issue 13: a handler that never reads ``urac`` or ``awareness`` should not pay
for their models; the parser still checks everything (same reasons, as
``test_fastpath`` shows), and every read path gets the same values.
"""

from __future__ import annotations

import copy
import json
import pickle
import threading
from collections.abc import Callable
from typing import Any

import pytest
from benchmarks._headers import gateway_header
from benchmarks._sizes import deep_size
from pydantic import BaseModel, TypeAdapter

from soajs.context import parse_inject_header
from soajs.context.cache import entry_cost
from soajs.context.parser import _validated
from soajs.models import ContextData, Tenant

RAW = gateway_header(4096)
FIELDS = list(ContextData.model_fields)


def parsed() -> ContextData:
    ctx = parse_inject_header([RAW], 65536).context
    assert ctx is not None
    return ctx


def reference() -> ContextData:
    data = json.loads(RAW)
    ctx = _validated(data, data["tenant"]).context
    assert ctx is not None
    return ctx


def test_nothing_is_built_when_parsed_and_a_read_builds_only_its_field() -> None:
    ctx = parsed()
    assert not set(FIELDS) & set(ctx.__dict__)
    assert isinstance(ctx.tenant, Tenant)
    assert ctx.tenant.code == "TST1"
    assert set(FIELDS) & set(ctx.__dict__) == {"tenant"}
    assert ctx.tenant is ctx.tenant  # built once
    assert ctx.service_config("mail") == {"from": "me@localhost"}


class Holder(BaseModel):
    context: ContextData


READS: list[Callable[[ContextData], Any]] = [
    lambda c: c.model_dump(context={"reveal_secrets": True}),
    lambda c: json.loads(c.model_dump_json(context={"reveal_secrets": True})),
    lambda c: TypeAdapter(ContextData).dump_python(c, context={"reveal_secrets": True}),
    lambda c: Holder(context=c).model_dump(context={"reveal_secrets": True})["context"],
    lambda c: pickle.loads(pickle.dumps(c)).model_dump(context={"reveal_secrets": True}),
    lambda c: copy.copy(c).model_dump(context={"reveal_secrets": True}),
    lambda c: copy.deepcopy(c).model_dump(context={"reveal_secrets": True}),
    lambda c: c.model_copy().model_dump(context={"reveal_secrets": True}),
]


@pytest.mark.parametrize("read", READS)
def test_every_read_path_gives_what_eager_validation_gives(
    read: Callable[[ContextData], Any],
) -> None:
    def plain(value: Any) -> Any:  # tuples and lists alike
        return json.loads(json.dumps(value))

    assert plain(read(parsed())) == plain(read(reference()))
    assert plain(read(parsed())) == plain(reference().model_dump(context={"reveal_secrets": True}))


def test_repr_equality_and_iteration_match_eager_validation() -> None:
    assert repr(parsed()) == repr(reference())
    assert parsed() == reference()
    assert reference() == parsed()
    assert dict(parsed()) == dict(reference())
    assert list(dict(parsed())) == FIELDS
    ctx = parsed()
    ctx.urac  # noqa: B018 - a read in another order than the fields'
    assert ctx.model_dump_json() == reference().model_dump_json()  # order and masking


def test_threads_reading_one_shared_context_get_the_same_objects() -> None:
    for _ in range(20):
        ctx = parsed()
        seen: list[tuple[Any, ...]] = []
        start = threading.Barrier(8)

        def reader(
            ctx: ContextData = ctx,
            seen: list[tuple[Any, ...]] = seen,
            start: threading.Barrier = start,
        ) -> None:
            start.wait()
            seen.append(tuple(getattr(ctx, name) for name in reversed(FIELDS)))
            ctx.model_dump()

        threads = [threading.Thread(target=reader) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(seen) == 8
        for got in seen:  # identical objects, whichever thread built them
            assert all(a is b for a, b in zip(got, seen[0], strict=True))
        assert ctx == reference()


@pytest.mark.parametrize("shape", ["spread", "typed"])
@pytest.mark.parametrize("size", [2048, 16384, 61440])
def test_the_cache_charge_bounds_a_context_read_or_not(shape: str, size: int) -> None:
    raw = gateway_header(size, shape)
    for read in ((), ("tenant",), ("urac", "awareness"), tuple(FIELDS)):
        result = parse_inject_header([raw], 65536)
        assert result.context is not None
        for name in read:
            getattr(result.context, name)
        held = deep_size(result.context, read_all=False) + len(raw)
        assert held <= entry_cost(raw, result), (shape, size, read)
        assert deep_size(result.context) + len(raw) <= entry_cost(raw, result)
