"""Lazily frozen JSON: nothing mutable gets out, whatever the read path, whatever the thread."""

from __future__ import annotations

import copy
import json
import pickle
import threading
from collections.abc import Callable
from typing import Any

import pytest

from soajs.context import parse_inject_header
from soajs.models import FrozenDict
from soajs.models._lazy import LazyFrozenDict, freeze_lazily

DATA = {"acl": {"hello": {"get": [{"apis": {"/a": {"access": True}}}, [1, [2]]]}}, "n": 1}


def build() -> LazyFrozenDict:
    frozen = freeze_lazily(json.loads(json.dumps(DATA)))
    assert isinstance(frozen, LazyFrozenDict)
    return frozen


def assert_deeply_frozen(value: Any) -> None:
    """Every container reachable through public reads is immutable."""
    if isinstance(value, dict):
        assert isinstance(value, FrozenDict), type(value)
        with pytest.raises(TypeError):
            value["x"] = 1
        for key in value:
            assert_deeply_frozen(value[key])
        for item in value.values():
            assert_deeply_frozen(item)
    elif isinstance(value, list):
        pytest.fail("a list escaped")
    elif isinstance(value, tuple):
        for item in value:
            assert_deeply_frozen(item)


READS: list[Callable[[LazyFrozenDict], Any]] = [
    lambda d: d["acl"],
    lambda d: d.get("acl"),
    lambda d: next(iter(d.values())),
    lambda d: dict(d.items())["acl"],
    lambda d: d.copy()["acl"],
    lambda d: dict(d)["acl"],
    lambda d: {**d}["acl"],
    lambda d: (d | {})["acl"],
    lambda d: ({} | d)["acl"],
    lambda d: (lambda **kw: kw)(**d)["acl"],
    lambda d: pickle.loads(pickle.dumps(d))["acl"],
    lambda d: copy.deepcopy(d)["acl"],
    lambda d: copy.copy(d)["acl"],
]


@pytest.mark.parametrize("read", READS)
def test_every_read_path_gives_frozen_values(read: Callable[[LazyFrozenDict], Any]) -> None:
    assert_deeply_frozen(read(build()))


def test_mutations_are_refused_at_every_level() -> None:
    d = build()
    for attempt in (
        lambda: d.__setitem__("n", 2),
        lambda: d.update(n=2),
        lambda: d.pop("n"),
        lambda: d.setdefault("z", 1),
        lambda: d.clear(),
        lambda: d["acl"]["hello"].__setitem__("x", 1),
    ):
        with pytest.raises(TypeError):
            attempt()
    with pytest.raises(AttributeError):
        d["acl"]["hello"]["get"].append(1)
    assert d == DATA | {"acl": freeze_lazily(DATA["acl"])}


def test_equality_json_and_repr_match_eager_freezing() -> None:
    from soajs.models import freeze

    eager = freeze(DATA)
    assert build() == eager
    assert eager == build()
    assert build() != {"n": 1}
    assert json.loads(json.dumps(build())) == DATA
    assert repr(build()) == repr(eager)


def _read_concurrently(shared: LazyFrozenDict) -> list[Any]:
    seen: list[Any] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def reader() -> None:
        start.wait()
        try:
            for read in READS[:10]:
                value = read(shared)
                assert_deeply_frozen(value)
                seen.append(value)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return seen


def test_threads_reading_one_shared_value_all_see_frozen_equal_data() -> None:
    for _ in range(20):
        seen = _read_concurrently(build())
        assert len(seen) == 80
        assert all(value == freeze_lazily(DATA["acl"]) for value in seen)


def test_a_cached_context_cannot_be_mutated_through_copies() -> None:
    header = json.dumps({"tenant": {"id": "t", "code": "T"}, "package": DATA}).encode()
    ctx = parse_inject_header([header], 65536).context
    assert ctx is not None
    acl = ctx.tenant.application.package_acl
    assert acl is not None
    for copied in (dict(acl), {**acl}, acl.copy(), acl | {}):
        with pytest.raises(TypeError):
            copied["hello"]["x"] = 1
        with pytest.raises(AttributeError):
            copied["hello"]["get"].append(1)
    assert json.loads(json.dumps(acl)) == DATA["acl"]
    dumped = ctx.model_dump()["tenant"]["application"]["package_acl"]
    dumped["hello"]["get"] = "changed"  # a dump is a copy
    assert acl["hello"]["get"][1] == (1, (2,))


def test_a_dump_is_the_same_whatever_was_read_before() -> None:
    header = json.dumps(
        {
            "tenant": {
                "id": "t",
                "code": "T",
                "profile": {"p": [1, {"q": [2]}]},
                "x": [{"y": [3]}],
            },
            "package": DATA,
            "urac": {"config": {"c": [4]}, "extra": {"e": [5]}},
            "param": {"a": [[6]]},
        }
    ).encode()
    fresh = parse_inject_header([header], 65536).context
    read = parse_inject_header([header], 65536).context
    assert fresh is not None and read is not None
    assert read.tenant.application.package_acl is not None
    assert_deeply_frozen(read.tenant.application.package_acl)
    assert read.tenant.profile is not None
    assert_deeply_frozen(read.tenant.profile)
    assert read.param is not None
    assert_deeply_frozen(read.param)
    before = fresh.model_dump()
    assert before == read.model_dump()
    assert before["tenant"]["application"]["package_acl"]["hello"]["get"][1] == (1, (2,))
    assert before["tenant"]["profile"]["p"] == (1, {"q": (2,)})
    assert before["tenant"]["x"] == ({"y": (3,)},)
    assert before["urac"]["extra"] == {"e": (5,)}
    assert fresh.model_dump_json() == read.model_dump_json()
