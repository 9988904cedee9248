"""The parsing core: a table of malformed, hostile and edge-case headers, and fuzzing."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from soajs.context import MAX_DEPTH, ContextResolver, Reason, parse_inject_header
from soajs.models import ContextData
from tests.conftest import FIXTURES

RAW = (FIXTURES / "soajsinjectobj_raw.txt").read_bytes().strip()
CAP = 65536
T = {"id": "t1", "code": "TNT"}


def j(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode()


def thaw(value: Any) -> Any:
    """Frozen JSON (FrozenDict, tuples) back to plain JSON values, for comparisons."""
    return json.loads(json.dumps(value))


def nested(depth: int) -> bytes:
    """A valid header whose deepest bracket is ``depth`` levels down."""
    param: dict[str, Any] = {}
    for _ in range(depth - 2):
        param = {"a": param}
    return j({"tenant": T, "param": param})


CASES = [
    # -- encoding and size -----------------------------------------------------
    pytest.param([], Reason.MISSING, id="no-header"),
    pytest.param([RAW, RAW], Reason.DUPLICATE, id="sent-twice"),
    pytest.param([RAW + b", " + RAW], Reason.DUPLICATE, id="wsgi-joined-duplicate"),
    pytest.param([b"{" + b" " * CAP + b"}"], Reason.TOO_LARGE, id="over-the-cap"),
    pytest.param([b"x" * (CAP + 1)], Reason.TOO_LARGE, id="over-the-cap-garbage"),
    pytest.param([b""], Reason.NOT_JSON, id="empty"),
    pytest.param([b"   "], Reason.NOT_JSON, id="blank"),
    pytest.param([b"\xff\xfe{}"], Reason.NOT_UTF8, id="not-utf8"),
    pytest.param([b'{"tenant": {"id": "\xc3\x28"}}'], Reason.NOT_UTF8, id="invalid-utf8-in-string"),
    pytest.param([b"\xed\xa0\x80"], Reason.NOT_UTF8, id="utf8-surrogate"),
    pytest.param([b"%7B%ZZ"], Reason.BAD_PERCENT_ENCODING, id="bad-percent"),
    pytest.param([b"%7B%"], Reason.BAD_PERCENT_ENCODING, id="truncated-percent"),
    pytest.param([quote(b"\xff{}").encode()], Reason.NOT_JSON, id="percent-not-brace"),
    pytest.param([b"%7B%FF%7D"], Reason.NOT_UTF8, id="percent-decodes-to-bad-utf8"),
    # -- not JSON, or JSON that is not an object -------------------------------------
    pytest.param([b"{"], Reason.NOT_JSON, id="truncated-object"),
    pytest.param([b"{'tenant': 1}"], Reason.NOT_JSON, id="single-quotes"),
    pytest.param([b'{"tenant": {"id": "a", "code": "b"},}'], Reason.NOT_JSON, id="trailing-comma"),
    pytest.param([j({"tenant": T}) + b"garbage"], Reason.NOT_JSON, id="trailing-garbage"),
    pytest.param([b"<html>"], Reason.NOT_JSON, id="html"),
    pytest.param([b"\x00\x01\x02"], Reason.NOT_JSON, id="control-bytes"),
    pytest.param([b"[]"], Reason.NOT_AN_OBJECT, id="array"),
    pytest.param([b'"tenant"'], Reason.NOT_AN_OBJECT, id="string"),
    pytest.param([b"42"], Reason.NOT_AN_OBJECT, id="number"),
    pytest.param([b"null"], Reason.NOT_AN_OBJECT, id="null"),
    pytest.param([b"true"], Reason.NOT_AN_OBJECT, id="boolean"),
    pytest.param(
        [b'{"tenant": {"id": "a", "code": "b"}, "x": NaN}'], Reason.NON_FINITE_NUMBER, id="nan"
    ),
    pytest.param([b'{"x": Infinity}'], Reason.NON_FINITE_NUMBER, id="infinity"),
    pytest.param([b'{"x": -Infinity}'], Reason.NON_FINITE_NUMBER, id="minus-infinity"),
    pytest.param([nested(MAX_DEPTH + 1)], Reason.TOO_DEEP, id="one-level-too-deep"),
    pytest.param([b"[" * 5000 + b"]" * 5000], Reason.TOO_DEEP, id="very-deep-array"),
    pytest.param([b'{"a":' * 3000 + b"1" + b"}" * 3000], Reason.TOO_DEEP, id="very-deep-object"),
    pytest.param([b"[" * 20000], Reason.TOO_DEEP, id="unbalanced-deep"),
    # -- objects without a usable tenant -------------------------------------------------
    pytest.param([b"{}"], Reason.NO_TENANT, id="empty-object"),
    pytest.param([j({"tenant": None})], Reason.NO_TENANT, id="tenant-null"),
    pytest.param([j({"tenant": "TNT"})], Reason.NO_TENANT, id="tenant-string"),
    pytest.param([j({"tenant": {"id": "t1"}})], Reason.NO_TENANT, id="no-code"),
    pytest.param([j({"tenant": {"code": "TNT"}})], Reason.NO_TENANT, id="no-id"),
    pytest.param([j({"tenant": {"id": "", "code": "TNT"}})], Reason.NO_TENANT, id="empty-id"),
    pytest.param([j({"tenant": {"id": 5, "code": "TNT"}})], Reason.NO_TENANT, id="numeric-id"),
    pytest.param([j({"tenant": {"id": ["t"], "code": "TNT"}})], Reason.NO_TENANT, id="list-id"),
    pytest.param([j({"FORGED": True})], Reason.NO_TENANT, id="unrelated-object"),
    # -- wrong types inside --------------------------------------------------------------
    pytest.param(
        [j({"tenant": T, "urac": {"groups": "admin"}})], Reason.BAD_SHAPE, id="groups-string"
    ),
    pytest.param([j({"tenant": T, "urac": ["x"]})], Reason.BAD_SHAPE, id="urac-list"),
    pytest.param([j({"tenant": T, "awareness": {"port": "x"}})], Reason.BAD_SHAPE, id="port-word"),
    pytest.param(
        [j({"tenant": T, "awareness": {"interConnect": {"a": 1}}})],
        Reason.BAD_SHAPE,
        id="interconnect-object",
    ),
    pytest.param([j({"tenant": T, "geo": "10.0.0.1"})], Reason.BAD_SHAPE, id="geo-string"),
    pytest.param([j({"tenant": T, "device": [1]})], Reason.BAD_SHAPE, id="device-list"),
    pytest.param(
        [j({"tenant": T, "key": {"config": [1]}})], Reason.BAD_SHAPE, id="key-config-list"
    ),
    pytest.param([j({"tenant": {**T, "locked": {"x": 1}}})], Reason.BAD_SHAPE, id="locked-object"),
    pytest.param([j({"tenant": {**T, "main": "x"}})], Reason.BAD_SHAPE, id="main-string"),
    # -- edge cases that are fine ---------------------------------------------------
    pytest.param([RAW], Reason.OK, id="real-gateway-header"),
    pytest.param([quote(RAW).encode()], Reason.OK, id="percent-encoded"),
    pytest.param([b"  " + RAW + b"\t"], Reason.OK, id="surrounding-whitespace"),
    pytest.param([nested(MAX_DEPTH)], Reason.OK, id="deep-but-allowed"),
    pytest.param([j({"tenant": T})], Reason.OK, id="minimal"),
    pytest.param(
        [j({"tenant": T, "device": {"ua": "x"}, "geo": {}})], Reason.OK, id="device-object"
    ),
    pytest.param([j({"tenant": T, "key": "x", "package": 5})], Reason.OK, id="odd-key-and-package"),
    pytest.param([j({"tenant": {**T, "name": "x" * 60000}})], Reason.OK, id="large-under-cap"),
    pytest.param(
        [j({"tenant": T, "newField": {"a": [1, {"b": 2}]}})], Reason.OK, id="unknown-fields"
    ),
    pytest.param(
        [j({"tenant": {**T, "name": 'q"uo\\te [{'}})], Reason.OK, id="brackets-in-strings"
    ),
]


@pytest.mark.parametrize(("values", "reason"), CASES)
def test_header_table(values: list[bytes], reason: Reason) -> None:
    result = parse_inject_header(values, CAP)
    assert result.reason is reason, result.detail
    assert (result.context is not None) is (reason is Reason.OK)


def test_size_cap_is_checked_before_decoding() -> None:
    # invalid UTF-8 *and* too large: the size wins, nothing was decoded
    assert parse_inject_header([b"\xff" * 101], 100).reason is Reason.TOO_LARGE
    assert parse_inject_header([j({"tenant": T})], 10).reason is Reason.TOO_LARGE


def test_real_header_maps_as_the_protocol_says() -> None:
    ctx = parse_inject_header([RAW], CAP).context
    assert isinstance(ctx, ContextData)
    decoded = json.loads((FIXTURES / "soajsinjectobj_decoded.json").read_text())
    assert ctx.tenant.id == decoded["tenant"]["id"]
    assert ctx.tenant.code == "TST1"
    assert ctx.tenant.name == "Test Tenant One"
    assert ctx.tenant.profile == {"plan": "gold", "region": "local"}
    assert ctx.tenant.key.i_key == decoded["key"]["iKey"]
    assert ctx.tenant.key.e_key == decoded["key"]["eKey"]
    assert ctx.tenant.application.product == "HELLO"
    assert ctx.tenant.application.package == "HELLO_BASIC"
    assert ctx.tenant.application.app_id == decoded["application"]["appId"]
    assert thaw(ctx.tenant.application.package_acl) == decoded["package"]["acl"]
    assert thaw(ctx.tenant.application.package_acl_all_env) == decoded["package"]["acl_all_env"]
    assert thaw(ctx.services_config) == decoded["key"]["config"]
    assert ctx.device == "Python-urllib/3.11"
    assert ctx.geo == {"ip": "127.0.0.1"}
    assert ctx.awareness is not None
    assert ctx.awareness.port == 4000
    assert ctx.awareness.inter_connect is not None
    assert ctx.awareness.inter_connect[0].name == "hello"
    assert ctx.urac is None


def test_urac_names_are_percent_decoded_and_unicode_survives() -> None:
    header = {
        "tenant": {**T, "name": "Café 東京 🚀"},
        "urac": {
            "_id": "u1",
            "username": "zoë",
            "firstName": quote("Zoë"),
            "lastName": quote("山田 🚀"),
            "groups": ["owner"],
            "tenant": T,
        },
    }
    ctx = parse_inject_header([j(header)], CAP).context
    assert ctx is not None
    assert ctx.tenant.name == "Café 東京 🚀"
    assert ctx.urac is not None
    assert ctx.urac.first_name == "Zoë"
    assert ctx.urac.last_name == "山田 🚀"
    assert ctx.urac.username == "zoë"
    assert ctx.urac.groups == ("owner",)


def test_a_name_with_a_literal_percent_is_kept() -> None:
    header = {"tenant": T, "urac": {"firstName": "100%", "lastName": "%E9"}}
    ctx = parse_inject_header([j(header)], CAP).context
    assert ctx is not None
    assert ctx.urac is not None
    assert ctx.urac.first_name == "100%"
    assert ctx.urac.last_name == "%E9"  # not UTF-8 once decoded: kept as sent


def test_contexts_are_deeply_immutable() -> None:
    ctx = parse_inject_header([RAW], CAP).context
    assert ctx is not None
    acl = ctx.tenant.application.package_acl
    assert acl is not None
    with pytest.raises(TypeError):
        acl["hello"] = {}
    gets = acl["hello"]["1"]["get"]
    assert isinstance(gets, tuple)
    with pytest.raises(TypeError):
        ctx.services_config["mail"]["from"] = "x"


def test_reasons_are_logged_once_without_content(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="soajs")
    resolver = ContextResolver(trusted_gateways="*", cache_size=0)
    secret = (
        b'{"tenant": {"id": "SECRET-TENANT", "code": "x"}, "key": {"eKey": "SECRET-KEY"}, "x": NaN}'
    )
    for _ in range(5):
        assert resolver.resolve([secret], "127.0.0.1").reason is Reason.NON_FINITE_NUMBER
    records = [r for r in caplog.records if r.name == "soajs.context"]
    assert len(records) == 1
    assert records[0].levelno == logging.WARNING
    assert "SECRET" not in records[0].getMessage()
    assert "non_finite_number" in records[0].getMessage()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=3))
def test_fuzz_bytes_never_raise(values: list[bytes]) -> None:
    result = parse_inject_header(values, 256)
    assert isinstance(result.reason, Reason)


_json = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["tenant", "key", "application", "package", "urac", "device", "geo",
                         "awareness", "param", "x"]),
        _json,
    ),
    st.booleans(),
)  # fmt: skip
def test_fuzz_json_shaped_headers_never_raise(header: dict[str, Any], encode: bool) -> None:
    raw = json.dumps(header).encode()  # floats may be NaN/Infinity: allowed by dumps
    if encode:
        raw = quote(raw).encode()
    result = parse_inject_header([raw], CAP)
    assert isinstance(result.reason, Reason)
    assert (result.context is None) is (result.reason is not Reason.OK)
