"""The envelope's handlers on real servers: FastAPI on uvicorn, Flask and Django on werkzeug.

The same routes (tests/response/apps.py) answer the same bytes on the three.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.connector.loopback import Loopback
from tests.connector.test_envelope_decode import raw
from tests.integration.servers import child_server, uvicorn_server, werkzeug_server
from tests.response.apps import SECRET, fastapi_app, flask_app

KINDS = ("fastapi", "flask", "django")
NODE_ERROR = {
    "result": False,
    "errors": {"codes": [402, 403], "details": [{"code": 402, "message": "Out of stock"}]},
}


@dataclass
class Served:
    kind: str
    url: str
    log: Path | None = None  # the child's stderr (Django); in-process logs are in caplog


@contextmanager
def django_process(options: dict[str, object], log: Path) -> Iterator[str]:
    """tests/response/django_server.py in a child process; its base URL."""
    with child_server("tests.response.django_server", [json.dumps(options)], log) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def peer() -> Iterator[Loopback]:
    """A Node-like peer answering its errors with HTTP 200, ``result: false``."""
    server = Loopback("b", default=raw(200, json.dumps(NODE_ERROR).encode())).start()
    os.environ["ENVELOPE_TEST_PEER"] = server.address  # read by /relay (and the Django child)
    try:
        yield server
    finally:
        os.environ.pop("ENVELOPE_TEST_PEER", None)
        server.stop()


@pytest.fixture(scope="module", params=KINDS)
def served(
    request: pytest.FixtureRequest, peer: Loopback, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    kind = request.param
    if kind == "fastapi":
        with uvicorn_server(fastapi_app()) as server:
            yield Served(kind, server.url)
    elif kind == "flask":
        with werkzeug_server(flask_app()) as server:
            yield Served(kind, server.url)
    else:
        log = tmp_path_factory.mktemp("django-envelope") / "stderr.log"
        with django_process({}, log) as url:
            yield Served(kind, url, log)


def get(served: Served, path: str, **kwargs: object) -> httpx.Response:
    return httpx.request(str(kwargs.pop("method", "GET")), served.url + path, timeout=10, **kwargs)  # type: ignore[arg-type]


def envelope(answer: httpx.Response) -> object:
    assert answer.headers["content-type"].startswith("application/json"), answer.headers
    return answer.json()


def test_success_envelope(served: Served) -> None:
    answer = get(served, "/ok")
    assert answer.status_code == 200
    assert envelope(answer) == {"result": True, "data": {"id": 7, "name": "é"}}


def test_code_from_the_errors_map_with_its_status(served: Served) -> None:
    answer = get(served, "/known")
    assert answer.status_code == 404
    assert answer.content == (
        b'{"result":false,"errors":{"codes":[400],'
        b'"details":[{"code":400,"message":"Order not found"}]}}'
    )


def test_own_message_status_and_headers(served: Served) -> None:
    answer = get(served, "/own")
    assert answer.status_code == 409 and answer.headers["x-order"] == "7"
    assert envelope(answer) == {
        "result": False,
        "errors": {"codes": [401], "details": [{"code": 401, "message": "Order 7 is closed"}]},
    }


def test_several_codes(served: Served) -> None:
    answer = get(served, "/many")
    assert answer.status_code == 400
    assert envelope(answer) == {
        "result": False,
        "errors": {
            "codes": [400, 401],
            "details": [
                {"code": 401, "message": "Order closed"},
                {"code": 400, "message": "Order not found"},
            ],
        },
    }


def test_unknown_code_default_status(served: Served) -> None:
    answer = get(served, "/unknown")
    assert answer.status_code == 500
    assert envelope(answer) == {"result": False, "errors": {"codes": [7777], "details": []}}


def _log_text(served: Served, caplog: pytest.LogCaptureFixture) -> str:
    if served.log is not None:
        return served.log.read_text(errors="replace")
    return "\n".join(r.getMessage() for r in caplog.records)


def test_unhandled_error_is_a_500_envelope_without_internals(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        answer = get(served, "/boom")
    assert answer.status_code == 500
    assert envelope(answer) == {  # 164 with the service's own message from its errors map
        "result": False,
        "errors": {"codes": [164], "details": [{"code": 164, "message": "Something went wrong"}]},
    }
    assert SECRET not in answer.text and "Traceback" not in answer.text
    text = _log_text(served, caplog)
    assert text.count("unhandled RuntimeError in GET /boom") == 1, text[-3000:]
    assert "Traceback" in text  # logged with its traceback, once
    if served.kind != "django":
        assert "Exception in ASGI application" not in text  # not logged a second time


def test_peer_error_is_relayed(served: Served, peer: Loopback) -> None:
    answer = get(served, "/relay")
    assert answer.status_code == 500, (
        answer.text
    )  # the peer said 200 + result false: our default status
    assert envelope(answer) == {
        "result": False,
        "errors": {"codes": [402, 403], "details": [{"code": 402, "message": "Out of stock"}]},
    }


def test_connector_errors_answer_the_gateways_codes(served: Served) -> None:
    answer = get(served, "/noroute")
    assert answer.status_code == 503
    body = envelope(answer)
    assert body["errors"]["codes"] == [133]  # type: ignore[index]
    assert SECRET not in answer.text and "10.0.0.5" not in answer.text
    answer = get(served, "/deadline")
    assert answer.status_code == 504 and envelope(answer)["errors"]["codes"] == [134]  # type: ignore[index]


def test_validation_error_is_a_bounded_400(served: Served) -> None:
    hostile = "<script>" + "x" * 200_000
    body = {"q": "y" * 50_000, hostile[:5000]: 1, **{f"extra{i}": i for i in range(100)}}
    answer = get(
        served, "/items/notanumber", method="POST", params={"q": "zz"}, json={**body, "n": hostile}
    )
    assert answer.status_code == 400, answer.text
    decoded = envelope(answer)
    assert decoded["errors"]["codes"] == [173]  # type: ignore[index]
    message = decoded["errors"]["details"][0]["message"]  # type: ignore[index]
    assert message.startswith("Validation failed: ")
    assert len(answer.content) < 4096
    assert "xxxxxxxxxx" not in message and "yyyyyyyyyy" not in message
    assert "notanumber" not in message


def test_an_error_after_the_answer_started_is_left_to_the_server(served: Served) -> None:
    try:
        answer = get(served, "/late")
    except httpx.HTTPError:
        return  # the server cut the connection: fine, nothing was rewritten
    assert answer.status_code == 200
    assert answer.content.startswith(b"partial")


def test_http_errors_of_the_framework_keep_their_answer(served: Served) -> None:
    answer = get(served, "/no/such/path")
    assert answer.status_code == 404
    assert b'"codes"' not in answer.content


def test_djangos_own_400s_keep_their_answer(served: Served) -> None:
    if served.kind != "django":
        pytest.skip("Django's BadRequest and MultiPartParserError")
    for route in ("/badrequest", "/badmultipart"):
        answer = get(served, route)
        assert answer.status_code == 400, (route, answer.status_code, answer.text[:200])
        assert b'"codes"' not in answer.content
