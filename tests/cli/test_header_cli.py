"""``soajs header decode|encode|validate`` through the installed entry point."""

from __future__ import annotations

import json

import pytest

from soajs.testing import make_inject_header, make_urac
from tests.cli.conftest import soajs
from tests.conftest import FIXTURES

RAW = (FIXTURES / "soajsinjectobj_raw.txt").read_text().strip()
EKEY = json.loads(RAW)["key"]["eKey"]


def test_decode_the_real_gateway_header_masks_its_keys() -> None:
    run = soajs("header", "decode", RAW)
    assert run.code == 0, run.err
    size = len(RAW.encode())
    assert run.out.startswith(f"valid ({size} bytes): tenant TST1 (5f0a1b2c3d4e5f6a7b8c9d01)")
    assert EKEY not in run.out and "0123456789abcdef0123456789abcdef" not in run.out
    as_json = soajs("header", "decode", "--json", RAW).json()
    assert as_json["valid"] is True and as_json["context"]["tenant"]["code"] == "TST1"
    assert as_json["context"]["tenant"]["key"] == {"iKey": "**********", "eKey": "**********"}


def test_decode_reads_stdin_and_the_percent_encoded_variant() -> None:
    header = make_inject_header(urac=make_urac(first_name="Zoë"), percent_encoded=True)
    run = soajs("header", "decode", "--json", "-", stdin=header)
    assert run.code == 0, run.err
    assert run.json()["context"]["urac"]["firstName"] == "Zoë"
    assert soajs("header", "decode", "--json", stdin=header).json()["valid"] is True


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("{", "not_json"),
        ("[1]", "not_an_object"),
        ('{"tenant":{"id":"x"}}', "no_tenant"),
        ("%7Bbad%zz", "bad_percent_encoding"),
        ('{"tenant":{"id":"x","code":"y"},"n":NaN}', "non_finite_number"),
        ('{"a":' * 200 + "1" + "}" * 200, "too_deep"),
    ],
)
def test_decode_and_validate_refuse_with_the_parsers_reason(value: str, reason: str) -> None:
    run = soajs("header", "decode", "--json", value)
    assert run.code == 1
    assert run.json()["reason"] == reason
    text = soajs("header", "validate", value)
    assert text.code == 1 and text.out.startswith(f"refused: {reason}")


def test_validate_size_cap() -> None:
    header = make_inject_header()
    assert soajs("header", "validate", header).code == 0
    run = soajs("header", "validate", "--max-size", "100", "--json", header)
    assert run.code == 1 and run.json()["reason"] == "too_large"
    bad = soajs("header", "validate", "--max-size", "0", header)
    assert bad.code == 2 and "--max-size" in bad.err


def test_encode_from_flags_round_trips() -> None:
    run = soajs(
        "header",
        "encode",
        "--tenant-code",
        "ABC",
        "--tenant-id",
        "t-1",
        "--user",
        "zoë",
        "--first-name",
        "Zoë",
        "--gateway",
        "10.0.0.1:4000",
        "--interconnect",
        "orders:2@10.0.0.5:4382",
        "--no-provision-acl",
    )
    assert run.code == 0, run.err
    value = run.out.strip()
    obj = json.loads(value)
    assert obj["tenant"]["code"] == "ABC" and obj["package"] == {}
    assert obj["urac"]["firstName"] == "Zo%C3%AB"  # as the gateway encodes it
    assert obj["awareness"]["interConnect"][0]["port"] == 4382
    decoded = soajs("header", "decode", "--json", value).json()["context"]
    assert decoded["urac"]["firstName"] == "Zoë"
    assert decoded["awareness"]["host"] == "10.0.0.1"


def test_encode_from_a_json_object_and_percent_encoded() -> None:
    obj = {"tenant": {"id": "t1", "code": "T1"}, "urac": {"_id": "u", "username": "ü"}}
    run = soajs("header", "encode", "--json", json.dumps(obj))
    assert run.code == 0 and json.loads(run.out) == obj
    enc = soajs("header", "encode", "--percent-encoded", "--json", json.dumps(obj))
    assert enc.out.startswith("%7B") and enc.out.strip().isascii()
    assert soajs("header", "validate", enc.out.strip()).code == 0


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--json", "{nope"], 2, "--from-json is not JSON"),
        (["--json", "[1]"], 2, "must be a JSON object"),
        (["--json", '{"tenant": {}}'], 1, "would refuse this header: no_tenant"),
        (["--gateway", "nohost"], 2, "--gateway must be HOST:PORT"),
        (["--interconnect", "orders"], 2, "--interconnect must be"),
        (["--services-config", "[]"], 2, "must be a JSON object"),
    ],
)
def test_encode_bad_input_is_one_line_and_an_exit_code(
    args: list[str], code: int, message: str
) -> None:
    run = soajs("header", "encode", *args)
    assert run.code == code
    assert message in run.err and run.out == ""


def test_encode_no_check_prints_a_header_a_service_would_refuse() -> None:
    run = soajs("header", "encode", "--no-check", "--json", '{"tenant": {}}')
    assert run.code == 0 and run.out.strip() == '{"tenant":{}}'


def test_a_huge_header_on_stdin_is_refused_by_size_not_parsed() -> None:
    huge = '{"tenant":{"id":"x","code":"y"},"pad":"' + "a" * 5_000_000 + '"}'
    run = soajs("header", "decode", "--json", "-", stdin=huge)
    assert run.code == 1
    assert run.json() == {"valid": False, "reason": "too_large",
                          "detail": f"{len(huge)} > 65536 bytes"}  # fmt: skip


def test_json_before_the_subcommand_too() -> None:
    run = soajs("--json", "header", "validate", make_inject_header())
    assert run.code == 0 and run.json()["valid"] is True
