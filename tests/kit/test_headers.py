"""soajs.testing headers: the gateway's exact shape, and they parse through our own core."""

from __future__ import annotations

import json
from typing import Any

import pytest

from soajs.context import parse_inject_header
from soajs.context.reasons import Reason
from soajs.testing import (
    make_inject_header,
    make_inject_object,
    make_interconnect,
    make_urac,
)
from tests.conftest import FIXTURES

RAW = (FIXTURES / "soajsinjectobj_raw.txt").read_bytes().strip()


def parse(value: str) -> Any:
    result = parse_inject_header([value.encode("utf-8")], 65536)
    assert result.reason is Reason.OK, (result.reason, result.detail)
    return result.context


def test_reproduces_the_captured_gateway_header_byte_for_byte() -> None:
    captured = json.loads(RAW)
    header = make_inject_header(
        tenant_profile={"plan": "gold", "region": "local"},
        ekey=captured["key"]["eKey"],
        services_config=captured["key"]["config"],
        package_acl=captured["package"]["acl"],
        package_acl_all_env=captured["package"]["acl_all_env"],
        device="Python-urllib/3.11",
        interconnect=[make_interconnect("hello", "1", port=4381)],
    )
    assert header.encode("utf-8") == RAW


def test_defaults_parse_to_a_full_context() -> None:
    ctx = parse(make_inject_header())
    assert (ctx.tenant.id, ctx.tenant.code, ctx.tenant.name) == (
        "5f0a1b2c3d4e5f6a7b8c9d01",
        "TST1",
        "Test Tenant One",
    )
    assert ctx.tenant.key.i_key == "0123456789abcdef0123456789abcdef"
    assert ctx.tenant.application.product == "HELLO"
    acl = ctx.tenant.application.package_acl
    assert acl is not None and list(acl["hello"]["1"]["get"][0]["apis"]) == ["/whoami"]
    assert ctx.awareness is not None
    assert (ctx.awareness.host, ctx.awareness.port) == ("127.0.0.1", 4000)
    assert ctx.urac is None
    assert "hello" in ctx.services_config


def test_urac_names_are_percent_encoded_like_the_gateway_and_decoded_by_the_parser() -> None:
    urac = make_urac(first_name="Zoë", last_name="O'Brien & Co", profile={"a": 1})
    assert urac["firstName"] == "Zo%C3%AB"
    assert urac["lastName"] == "O'Brien%20%26%20Co"  # encodeURIComponent keeps '
    header = make_inject_header(urac=urac, urac_profile=True)
    obj = json.loads(header)
    assert list(obj)[-3:] == ["urac", "param", "awareness"]  # the gateway's order
    assert obj["param"] == {"urac_Profile": True, "urac_ACL": False}
    ctx = parse(header)
    assert ctx.urac is not None
    assert (ctx.urac.first_name, ctx.urac.last_name) == ("Zoë", "O'Brien & Co")
    assert ctx.urac.tenant is not None and ctx.urac.tenant.code == "TST1"


def test_non_ascii_is_sent_raw_and_the_percent_encoded_variant_parses_the_same() -> None:
    header = make_inject_header(tenant_name="Café Ünïcode")
    assert "Café" in header  # JSON.stringify does not escape non-ASCII
    encoded = make_inject_header(tenant_name="Café Ünïcode", percent_encoded=True)
    assert encoded.startswith("%7B") and encoded.isascii()
    assert parse(header) == parse(encoded)
    assert parse(encoded).tenant.name == "Café Ünïcode"


def test_interconnect_and_no_provision_acl() -> None:
    obj = make_inject_object(
        provision_acl=False,
        interconnect=[make_interconnect("orders", "2", port=4382, latest="3")],
    )
    assert obj["package"] == {} and "acl" not in obj["application"]
    ctx = parse(
        make_inject_header(provision_acl=False, interconnect=obj["awareness"]["interConnect"])
    )
    assert ctx.awareness is not None and ctx.awareness.inter_connect is not None
    entry = ctx.awareness.inter_connect[0]
    assert (entry.name, entry.version, entry.port, entry.latest) == ("orders", "2", 4382, "3")


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"tenant_code": ""}, Reason.NO_TENANT),
        ({"tenant_id": ""}, Reason.NO_TENANT),
    ],
)
def test_a_bad_header_built_by_the_kit_is_refused_with_its_reason(
    fields: dict[str, Any], reason: Reason
) -> None:
    result = parse_inject_header([make_inject_header(**fields).encode()], 65536)
    assert result.context is None and result.reason is reason


def test_main_tenant_roaming_geo_device_and_param() -> None:
    obj = make_inject_object(
        main_tenant={"id": "m1", "code": "MAIN"},
        roaming={"tenant": "x"},
        geo=None,
        device={"ua": "x"},
        param={"extra": 1},
    )
    assert "geo" not in obj and obj["device"] == {"ua": "x"} and obj["param"] == {"extra": 1}
    assert list(obj["tenant"]) == ["id", "name", "code", "locked", "roaming", "type", "main"]
    ctx = parse(make_inject_header(main_tenant={"id": "m1", "code": "MAIN"}, geo=None))
    assert ctx.tenant.main is not None and ctx.tenant.main.code == "MAIN"
    assert ctx.geo is None


def test_make_context_is_bound_like_the_middleware_binds_it() -> None:
    from soajs import RegistryManager, ServiceConnector
    from soajs.testing import make_context, make_registry_data

    registry = RegistryManager.from_dict(make_registry_data(), "hello")
    ctx = make_context(registry, tenant_code="CTX", interconnect=[make_interconnect("orders")])
    assert ctx.tenant.code == "CTX"
    assert ctx.registry is registry.registry
    connection = ServiceConnector(ctx).connect("orders")
    assert connection.host == "127.0.0.1:4381"
    assert connection.headers["soajsinjectobj"].encode() == ctx.raw_header
    with pytest.raises(ValueError, match="no_tenant"):
        make_context(tenant_code="")


def test_the_default_package_acl_all_env_is_shaped_as_captured() -> None:
    import json

    from soajs.testing import make_inject_object

    captured = json.loads((FIXTURES / "soajsinjectobj_decoded.json").read_text())
    package = make_inject_object()["package"]
    assert set(package["acl_all_env"]) == set(captured["package"]["acl_all_env"]) == {"dev"}
    assert package["acl_all_env"]["dev"] == package["acl"]
    assert make_inject_object(package_acl=None)["package"]["acl_all_env"] is None
    assert make_inject_object(package_acl_all_env=None)["package"]["acl_all_env"] is None
