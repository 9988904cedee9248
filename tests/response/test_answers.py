"""What the handlers share: bounded logging of unhandled errors, bounded validation messages."""

from __future__ import annotations

import json
import logging

import pytest

from soajs.connector import InvalidCallError, ResponseTooLargeError, ServiceError
from soajs.response import answers
from soajs.response.answers import (
    LOG_BURST,
    answer_connector,
    answer_unhandled,
    answer_validation,
)


@pytest.fixture
def limiter(monkeypatch: pytest.MonkeyPatch) -> answers._Limiter:
    fresh = answers._Limiter(LOG_BURST, 60.0)
    monkeypatch.setattr(answers, "_limiter", fresh)
    return fresh


def _boom(size: int = 10) -> RuntimeError:
    try:
        raise RuntimeError("s3cr3t" + "x" * size)
    except RuntimeError as exc:
        return exc


def test_unhandled_logs_are_bounded_and_counted(
    limiter: answers._Limiter, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, "soajs.response"):
        for _ in range(LOG_BURST + 5):
            answer = answer_unhandled(_boom(), None, "GET /x")
            assert answer.status == 500 and b"s3cr3t" not in answer.body
        assert len(caplog.records) == LOG_BURST
        limiter.window -= 61  # a minute later
        answer_unhandled(_boom(), None, "GET /x")
    assert len(caplog.records) == LOG_BURST + 1
    assert "5 earlier unhandled error(s) not logged" in caplog.records[-1].getMessage()


def test_a_huge_traceback_is_cut(
    limiter: answers._Limiter, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, "soajs.response"):
        answer_unhandled(_boom(10**6), None, "GET /" + "p" * 10_000 + "\r\ninjected")
    message = caplog.records[0].getMessage()
    assert len(message) < 9000
    assert "traceback cut" in message and "\r\ninjected" not in message


def test_the_body_of_an_unhandled_error() -> None:
    body = json.loads(answer_unhandled(_boom(), {164: "Oops"}).body)
    assert body == {"result": False, "errors": {"codes": [164], "details": [
        {"code": 164, "message": "Oops"}]}}  # fmt: skip


def test_validation_message_is_bounded() -> None:
    errors = [
        {"loc": ("body", "k" * 1000, i), "msg": "bad\n" * 100, "input": "SECRET"} for i in range(50)
    ]
    answer = answer_validation([*errors, "not a mapping"])
    body = json.loads(answer.body)
    assert answer.status == 400 and body["errors"]["codes"] == [173]
    message = body["errors"]["details"][0]["message"]
    assert (
        "more" in message
        and message.count("body.") < 10
        and "SECRET" not in message
        and "\n" not in message
    )
    assert len(message) <= 1024
    few = [{"loc": ("query", f"f{i}"), "msg": "Field required"} for i in range(12)]
    message = json.loads(answer_validation(few).body)["errors"]["details"][0]["message"]
    assert message.count("Field required") == 10 and message.endswith("; and 2 more")
    assert json.loads(answer_validation([]).body)["errors"]["details"][0]["message"] == (
        "Validation failed: invalid request"
    )


def test_connector_error_mapping() -> None:
    too_large = ResponseTooLargeError(
        "big", service="b", version=None, target="h:1", limit=1, received=2
    )
    assert answer_connector(too_large).status == 502
    invalid = InvalidCallError("bad host", service="b", version=None, target="h:1")
    answer = answer_connector(invalid, {133: "Orders are down"})
    assert answer.status == 503 and b"Orders are down" in answer.body
    http_error = ServiceError("HTTP 502", service="b", version=None, status=502)
    assert json.loads(answer_connector(http_error).body)["errors"]["codes"] == [133]
    details: tuple[dict[str, object], ...] = (
        {"code": 6, "message": "six"},
        {"code": None, "message": "x"},
    )
    relayed = ServiceError(
        "m", service="b", version=None, status=404, codes=(5, 6), details=details
    )
    answer = answer_connector(relayed)
    assert answer.status == 404
    assert json.loads(answer.body)["errors"] == {
        "codes": [5, 6], "details": [{"code": 6, "message": "six"}]}  # fmt: skip
