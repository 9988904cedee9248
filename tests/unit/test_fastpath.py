"""The fast path builds the very context pydantic's validation builds, or leaves it to it.

Issue 13: the cold path is now msgspec decoding plus models built without
validating twice (:mod:`soajs.context.fastpath`); pydantic's validation of the
folded header (``parser._validated``) stays as the reference and the fallback.
Every generated header must give the same reason, and the same context (dump
with secrets revealed, repr, fields set, equality) both ways.
"""

from __future__ import annotations

import json
import pickle
from typing import Any
from urllib.parse import unquote

import pytest
from benchmarks._headers import gateway_header
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from soajs.context import Reason, parse_inject_header
from soajs.context.fastpath import decode_names
from soajs.context.parser import _to_context, _validated
from soajs.models import Awareness, ContextData, FrozenDict, InterConnect, Tenant, Urac

# values a gateway sends, and the odd ones pydantic coerces or refuses
_scalar = st.none() | st.booleans() | st.integers(-5, 5) | st.floats(-2, 2) | st.text(max_size=6)
_json = st.recursive(
    _scalar,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3),
    max_leaves=12,
)
_odd = _json | st.just("a%C3%A9") | st.just("%zz")


def _obj(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from([*keys, "extra", "x_y"]), _odd, max_size=len(keys) + 1)


_ref = st.none() | st.fixed_dictionaries({"id": st.text(max_size=3)}) | _obj(["id", "code"])
_entry = st.fixed_dictionaries(
    {"name": st.sampled_from(["a", "b"]), "host": st.just("h"), "port": st.integers(1, 9)},
    optional={"version": st.sampled_from(["1", None, 1]), "latest": st.just("1"), "k": _json},
)
_URAC_KEYS = [
    "_id",
    "id",
    "username",
    "firstName",
    "first_name",
    "lastName",
    "email",
    "groups",
    "tenant",
    "profile",
    "acl",
    "acl_AllEnv",
    "config",
    "groupsConfig",
    "socialLogin",
    # the Python names of aliased fields, which pydantic reads too (the check refuses
    # each of them in C: soajs.context.check)
    "last_name",
    "acl_all_env",
    "groups_config",
    "social_login",
]
_header = st.fixed_dictionaries(
    {"tenant": st.fixed_dictionaries({"id": st.just("t1"), "code": st.just("T")})},
    optional={
        "key": _obj(["iKey", "eKey", "config"]),
        "application": _obj(["product", "package", "appId", "app_id", "acl", "acl_all_env"]),
        "package": _obj(["acl", "acl_all_env"]),
        "urac": st.none()
        | _obj(_URAC_KEYS)
        | st.fixed_dictionaries(
            {"groups": st.lists(st.text(max_size=3) | st.integers(0, 3), max_size=4)},
            optional={"tenant": _ref, "firstName": st.just("Zo%C3%AB")},
        ),
        "awareness": st.none()
        | _obj(["host", "port", "interConnect", "inter_connect"])
        | st.fixed_dictionaries(
            {"interConnect": st.lists(_entry, max_size=3) | _json}, optional={"port": _odd}
        ),
        "device": _odd,
        "geo": _odd,
        "param": _odd,
    },
)
_tenant_extra = st.dictionaries(
    st.sampled_from(["name", "type", "locked", "roaming", "main", "profile", "oauth"]),
    _odd | _ref,
    max_size=4,
)


def _fields_sets(model: Any) -> Any:
    """Every model's fields set and extras, recursively (what a dump does not show)."""
    if isinstance(model, BaseModel):
        return (
            type(model).__name__,
            sorted(model.model_fields_set),
            sorted((model.model_extra or {}).items(), key=str),
            {name: _fields_sets(getattr(model, name)) for name in type(model).model_fields},
        )
    if isinstance(model, tuple):
        return [_fields_sets(item) for item in model]
    return type(model).__name__


def _same(header: dict[str, Any]) -> None:
    text = json.dumps(header)
    fast = _to_context(json.loads(text))
    data = json.loads(text)
    reference = _validated(data, data["tenant"])
    assert (fast.reason, fast.detail) == (reference.reason, reference.detail), text
    if reference.context is None:
        assert fast.context is None
        return
    ours, theirs = fast.context, reference.context
    assert ours is not None
    reveal = {"reveal_secrets": True}
    assert repr(ours) == repr(theirs)
    assert ours.model_dump(context=reveal) == theirs.model_dump(context=reveal)
    assert ours.model_dump_json(context=reveal) == theirs.model_dump_json(context=reveal)
    assert ours.model_dump_json() == theirs.model_dump_json()  # masked alike
    assert _fields_sets(ours) == _fields_sets(theirs)
    assert ours == theirs


@settings(max_examples=400, deadline=None)
@given(_header, _tenant_extra)
def test_fast_path_gives_the_reference_reason_and_context(
    header: dict[str, Any], tenant: dict[str, Any]
) -> None:
    header["tenant"].update(tenant)
    _same(header)


@pytest.mark.parametrize("shape", ["spread", "typed"])
@pytest.mark.parametrize("size", [2048, 61440])
def test_realistic_headers_take_the_fast_path_and_match(shape: str, size: int) -> None:
    header = json.loads(gateway_header(size, shape))
    _same(header)
    ctx = _to_context(header).context
    assert ctx is not None
    awareness = ctx.awareness
    assert awareness is not None
    assert "inter_connect" not in awareness.__dict__  # pending: built on first read
    entries = awareness.inter_connect
    assert entries is not None
    assert isinstance(entries[0], InterConnect)
    assert entries is awareness.interConnect  # built once


def test_pending_entries_are_built_by_every_read_path() -> None:
    raw = gateway_header(2048)
    reads = [
        lambda a: a.inter_connect,
        lambda a: a.model_dump()["interConnect"],
        lambda a: json.loads(a.model_dump_json())["interConnect"],
        lambda a: repr(a),
        lambda a: dict(a)["inter_connect"],
        lambda a: a == Awareness.model_validate(a.model_dump()),
        lambda a: pickle.loads(pickle.dumps(a)).inter_connect,
        lambda a: a.model_copy().inter_connect,
    ]
    for read in reads:
        ctx = parse_inject_header([raw], 65536).context
        assert ctx is not None and ctx.awareness is not None
        assert read(ctx.awareness)
        assert "hello" in repr(ctx) or "service-0" in repr(ctx.awareness)
    ctx = parse_inject_header([raw], 65536).context
    assert ctx is not None and ctx.awareness is not None
    assert ctx.awareness == Awareness.model_validate(json.loads(raw)["awareness"])


def test_a_bad_entry_is_refused_when_parsed_not_when_read() -> None:
    header = {"tenant": {"id": "t", "code": "T"}, "awareness": {"interConnect": [{"host": None}]}}
    result = parse_inject_header([json.dumps(header).encode()], 65536)
    assert result.reason is Reason.BAD_SHAPE
    assert "interConnect" in result.detail


def test_the_public_models_are_what_users_import() -> None:
    ctx = parse_inject_header([gateway_header(2048)], 65536).context
    assert isinstance(ctx, ContextData)
    assert isinstance(ctx.tenant, Tenant)
    assert isinstance(ctx.urac, Urac)
    assert ctx.urac.first_name == "Zoë"  # percent-decoded
    assert ctx.urac.firstName == "Zoë"
    assert isinstance(ctx.urac.groups, tuple)
    assert isinstance(ctx.awareness, Awareness)


def _walk(value: Any, path: str, seen: list[str]) -> None:
    """Every container reachable from ``value`` refuses mutation (models, dicts, tuples)."""
    if isinstance(value, BaseModel):
        with pytest.raises((TypeError, ValueError)):  # pydantic: frozen instance
            value.__setattr__(next(iter(type(value).model_fields)), None)
        for name in type(value).model_fields:
            _walk(getattr(value, name), f"{path}.{name}", seen)
        for name, extra in (value.model_extra or {}).items():
            _walk(extra, f"{path}.{name}", seen)
    elif isinstance(value, dict):
        assert isinstance(value, FrozenDict), path
        for attempt in (
            lambda: value.__setitem__("x", 1),
            lambda: value.__delitem__(next(iter(value), "x")),
            lambda: value.update(x=1),
            lambda: value.pop("x", None),
            lambda: value.popitem(),
            lambda: value.setdefault("x", 1),
            lambda: value.clear(),
            lambda: value.__ior__({"x": 1}),
        ):
            with pytest.raises(TypeError):
                attempt()
        seen.append(path)
        for key in value:
            _walk(value[key], f"{path}[{key!r}]", seen)
    else:
        assert not isinstance(value, list | set | bytearray), path
        if isinstance(value, tuple):
            seen.append(path)
            for i, item in enumerate(value):
                _walk(item, f"{path}[{i}]", seen)


@pytest.mark.parametrize("shape", ["spread", "typed"])
def test_every_container_at_every_depth_refuses_mutation(shape: str) -> None:
    header = json.loads(gateway_header(8192, shape))
    header["tenant"]["unknown"] = {"deep": [{"x": [1, {"y": [2]}]}]}
    header["urac"]["newField"] = [[{"z": {}}]]
    header["awareness"]["interConnect"][0]["meta"] = {"tags": ["a", ["b"]]}
    ctx = parse_inject_header([json.dumps(header).encode()], 65536).context
    assert ctx is not None
    seen: list[str] = []
    _walk(ctx, "ctx", seen)
    for expected in (
        "ctx.tenant.profile['features']",
        "ctx.tenant.unknown['deep'][0]['x'][1]['y']",
        "ctx.urac.groups",
        "ctx.urac.newField[0][0]['z']",
        "ctx.services_config['mail']",
        "ctx.tenant.application.package_acl['hello']['1']['get'][0]['apis']",
        "ctx.awareness.inter_connect[0].meta['tags'][1]",
    ):
        assert expected in seen, expected


_NAME_PARTS = ["%", "%C3", "%A9", "%zz", "%41", "a", "é", "東", "%E6%9D%B1", " "]


def _old_decode(value: str) -> str:
    try:
        return unquote(value, errors="strict")
    except UnicodeDecodeError:
        return value


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_NAME_PARTS)))
def test_names_decode_as_unquote_does(parts: list[str]) -> None:
    value = "".join(parts)
    urac = {"firstName": value, "lastName": value, "x": 1}
    out = decode_names(urac)
    assert out["firstName"] == out["lastName"] == _old_decode(value)
    assert urac["firstName"] == value  # the decoded object is never changed
