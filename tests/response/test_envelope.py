"""The envelope core: shapes as Node's buildResponse, the errors map, bounds, bad input."""

from __future__ import annotations

import datetime
import json
import logging
import uuid
from decimal import Decimal

import pydantic
import pytest

from soajs import Config, ConfigurationError
from soajs import SoajsError as LibraryError
from soajs.response import (
    MAX_CODES,
    MAX_MESSAGE_CHARS,
    SoajsError,
    build_response,
    dumps,
    error_envelope,
    errors_map,
)
from soajs.response.envelope import clean_message

ERRORS = {400: "Order not found", 401: "Order closed", 402: "  padded  "}


def cfg(**extra: object) -> Config:
    return Config(name="orders", group="Shop", port=4381, **extra)


def test_success_envelope_as_node() -> None:
    assert build_response({"a": 1}) == {"result": True, "data": {"a": 1}}
    assert build_response() == {"result": True}  # no data at all: Node leaves it out
    assert dumps(build_response([1, "é"])) == '{"result":true,"data":[1,"é"]}'.encode()


def test_error_envelope_message_from_the_errors_map() -> None:
    envelope = SoajsError(400).envelope(ERRORS)
    assert envelope == {
        "result": False,
        "errors": {"codes": [400], "details": [{"code": 400, "message": "Order not found"}]},
    }


def test_own_message_wins_and_is_trimmed() -> None:
    envelope = SoajsError(400, "  Order 7 not found \n").envelope(ERRORS)
    assert envelope["errors"]["details"] == [{"code": 400, "message": "Order 7 not found"}]
    assert SoajsError(402).envelope(ERRORS)["errors"]["details"][0]["message"] == "padded"


def test_several_codes_deduplicated_and_sorted() -> None:
    exc = SoajsError([(401, None), 400, (401, "again"), (999, "custom")])
    envelope = exc.envelope(ERRORS)
    assert envelope["errors"]["codes"] == [400, 401, 999]
    assert envelope["errors"]["details"] == [
        {"code": 401, "message": "Order closed"},
        {"code": 400, "message": "Order not found"},
        {"code": 999, "message": "custom"},
    ]
    assert exc.code == 401 and exc.status == 500


def test_unknown_code_is_listed_without_detail_and_warned_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, "soajs.response"):
        first = SoajsError(7301).envelope(ERRORS)
        SoajsError(7301).envelope(ERRORS)
    assert first == {"result": False, "errors": {"codes": [7301], "details": []}}
    lines = [r for r in caplog.records if "7301" in r.getMessage()]
    assert len(lines) == 1


@pytest.mark.parametrize("code", [0, -1, True, "x400", 1.5, None])
def test_bad_codes_are_refused(code: object) -> None:
    with pytest.raises(TypeError):
        SoajsError(code)  # type: ignore[arg-type]


@pytest.mark.parametrize("status", [199, 600, True, "500"])
def test_bad_status_is_refused(status: object) -> None:
    with pytest.raises(ValueError, match="200-599"):
        SoajsError(400, status=status)  # type: ignore[arg-type]


def test_no_codes_and_too_many_codes_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        SoajsError([])
    with pytest.raises(ValueError, match="at most"):
        SoajsError(range(1, 10**6))


def test_it_is_a_library_error_with_status_and_headers() -> None:
    exc = SoajsError(400, status=404, headers={"Retry-After": "1"})
    assert isinstance(exc, LibraryError)
    assert exc.status == 404 and exc.headers == {"Retry-After": "1"}
    assert "400" in str(exc)


def test_messages_are_bounded_and_one_line() -> None:
    envelope = SoajsError(400, "a\r\nb\x00c" + "x" * 10**6).envelope()
    message = envelope["errors"]["details"][0]["message"]
    assert len(message) <= MAX_MESSAGE_CHARS
    assert message.startswith("a  b c")
    assert all(ch >= " " for ch in message)
    assert clean_message(12) == "12"


def test_error_envelope_keeps_at_most_max_codes() -> None:
    envelope = error_envelope((c, "m") for c in range(1, 10**6))
    assert len(envelope["errors"]["codes"]) == MAX_CODES


def test_errors_map_sources() -> None:
    config = cfg(errors={"400": "Order not found", 401: "Order closed"})
    assert errors_map(config) == {400: "Order not found", 401: "Order closed"}

    class Manager:
        def __init__(self, config: Config) -> None:
            self.config = config

    assert errors_map(Manager(config))[400] == "Order not found"
    assert errors_map({"400": "x", "12x": "section"}) == {400: "x"}
    assert errors_map(None) == {} and errors_map(object()) == {}
    assert SoajsError(400).envelope(Manager(config))["errors"]["details"][0]["message"] == (
        "Order not found"
    )


def test_config_errors_parsing_and_registration() -> None:
    config = cfg(errors={"400": "bad", 401: 7})
    assert config.errors == {400: "bad", 401: "7"}
    assert config.registration_body()["errors"] == {"400": "bad", "401": "7"}
    assert "errors" not in cfg().registration_body()
    assert "response_format" not in cfg(response_format="envelope").registration_body()
    with pytest.raises(TypeError):
        config.errors[5] = "x"
    assert hash(config) == hash(cfg(errors={400: "bad", "401": "7"}))
    assert Config.model_validate_json(config.model_dump_json()).errors == config.errors


@pytest.mark.parametrize(
    "errors", [{"4xx": "section"}, {0: "zero"}, {"-1": "neg"}, {True: "bool"}, ["400"], "x"]
)
def test_config_refuses_bad_errors(errors: object) -> None:
    with pytest.raises(ConfigurationError, match="errors"):
        cfg(errors=errors)


def test_config_refuses_an_unknown_response_format() -> None:
    with pytest.raises(ConfigurationError, match="response_format"):
        cfg(response_format="xml")


def test_dumps_converts_common_types_and_refuses_others() -> None:
    class Item(pydantic.BaseModel):
        when: datetime.date

    value = {
        "m": Item(when=datetime.date(2026, 1, 2)),
        "u": uuid.UUID(int=1),
        "d": Decimal("1.5"),
        "s": {1},
    }
    decoded = json.loads(dumps(build_response(value)))
    assert decoded["data"] == {
        "m": {"when": "2026-01-02"},
        "u": "00000000-0000-0000-0000-000000000001",
        "d": "1.5",
        "s": [1],
    }
    with pytest.raises(TypeError):
        dumps(build_response(object()))


def test_build_response_without_data_leaves_data_out_as_node_does() -> None:
    from soajs.response import build_response

    assert build_response() == {"result": True}
    assert build_response(None) == {"result": True, "data": None}
    assert build_response([]) == {"result": True, "data": []}


@pytest.mark.parametrize("key", ["²", "٣", str(2**53), 2**60, "0", -4])
def test_config_errors_refuses_codes_javascript_cannot_read(key: object) -> None:
    from soajs.config import Config
    from soajs.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="errors"):
        Config.model_validate({"name": "svc", "port": 4010, "errors": {key: "x"}})
