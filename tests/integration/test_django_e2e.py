"""Django end to end: the soajs middleware and the example's /whoami on a real WSGI server.

Django runs in a child process (tests/integration/django_server.py): its settings
are process-global and other tests configure Django their own way.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.conftest import FIXTURES
from tests.integration.servers import RawResponse, Served, django_servers, raw_get

RAW = (FIXTURES / "soajsinjectobj_raw.txt").read_bytes().strip()
FORGED = b'{"tenant": {"id": "FORGED", "code": "X"}}'
UNICODE_NAME = "Café 東京 🚀"
UNICODE = json.dumps(
    {
        "tenant": {"id": "t-ü", "code": "UNI", "name": UNICODE_NAME},
        "urac": {
            "_id": "u1",
            "username": "zoë",
            "firstName": quote("Zoë 山田 🎉"),
            "lastName": quote("Ñúñez"),
        },
    },
    ensure_ascii=False,
).encode()  # raw UTF-8 bytes on the wire, as the gateway sends them

OPTIONS: dict[str, dict[str, Any]] = {
    "trusted": {"trusted_gateways": "127.0.0.1"},
    "untrusted": {"trusted_gateways": "10.9.9.9"},
    "strict": {"trusted_gateways": "*", "strict": True},
    "public": {"trusted_gateways": "*", "public_service": True},
    "single_thread": {"trusted_gateways": "*", "_threaded": False},
}


@pytest.fixture(scope="module")
def django_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Django child's stderr."""
    return tmp_path_factory.mktemp("django") / "stderr.log"


@pytest.fixture(scope="module")
def django(django_log: Path) -> Iterator[dict[str, Served]]:
    with django_servers(list(OPTIONS.values()), django_log) as served:
        yield dict(zip(OPTIONS, served, strict=True))


def get(served: Served, path: str, header: bytes | None = None) -> RawResponse:
    return raw_get(served.port, path, [] if header is None else [(b"soajsinjectobj", header)])


def as_json(response: RawResponse) -> Any:
    assert response.status == 200, response.raw[:500]
    return json.loads(response.body)


def test_whoami_with_the_gateway_header(django: dict[str, Served]) -> None:
    body = as_json(get(django["trusted"], "/whoami", RAW))
    assert body["tenant"] == {"id": "5f0a1b2c3d4e5f6a7b8c9d01", "code": "TST1",
                              "name": "Test Tenant One"}  # fmt: skip
    assert body["application"] == {"product": "HELLO", "package": "HELLO_BASIC"}
    assert body["user"] is None


def test_whoami_without_header(django: dict[str, Served]) -> None:
    assert as_json(get(django["trusted"], "/whoami")) == {"tenant": None, "user": None}


def test_accents_cjk_and_emoji_come_out_right(django: dict[str, Served]) -> None:
    body = as_json(get(django["trusted"], "/whoami", UNICODE))
    assert body["tenant"] == {"id": "t-ü", "code": "UNI", "name": UNICODE_NAME}
    assert body["user"] == {"id": "u1", "username": "zoë", "first_name": "Zoë 山田 🎉",
                            "last_name": "Ñúñez"}  # fmt: skip


def test_a_percent_encoded_header_is_accepted(django: dict[str, Served]) -> None:
    body = as_json(get(django["trusted"], "/whoami", quote(UNICODE).encode()))
    assert body["tenant"]["name"] == UNICODE_NAME
    assert body["user"]["first_name"] == "Zoë 山田 🎉"


def test_the_request_sees_one_context_through_every_accessor(django: dict[str, Served]) -> None:
    assert as_json(get(django["trusted"], "/probe", RAW)) == {
        "tenant": "TST1",
        "name": "Test Tenant One",
        "first_name": None,
        "geo": {"ip": "127.0.0.1"},
        "accessor_is_ctx": True,
        "current_is_ctx": True,
        "header_seen": True,
        "meta_seen": True,
        "before": None,
    }


def test_a_forged_header_from_an_untrusted_peer_is_ignored_and_removed(
    django: dict[str, Served],
) -> None:
    body = as_json(get(django["untrusted"], "/probe", FORGED))
    assert body["tenant"] is None
    assert body["header_seen"] is False
    assert body["meta_seen"] is False
    assert as_json(get(django["untrusted"], "/whoami", RAW))["tenant"] is None


def test_a_public_service_ignores_and_removes_the_header(django: dict[str, Served]) -> None:
    body = as_json(get(django["public"], "/probe", FORGED))
    assert (body["tenant"], body["header_seen"], body["meta_seen"]) == (None, False, False)


@pytest.mark.parametrize(
    "header", [None, b"{", b'{"tenant": {"id": "x"}}'], ids=["none", "truncated", "no-code"]
)
def test_strict_mode_answers_400_problem_json(django: dict[str, Served], header: bytes) -> None:
    response = get(django["strict"], "/whoami", header)
    assert response.status == 400
    assert response.headers["content-type"] == "application/problem+json"
    problem = json.loads(response.body)
    assert problem["status"] == 400
    assert problem["title"]


def test_strict_mode_lets_good_requests_and_health_checks_through(
    django: dict[str, Served],
) -> None:
    assert as_json(get(django["strict"], "/whoami", RAW))["tenant"]["code"] == "TST1"
    heartbeat = as_json(get(django["strict"], "/heartbeat"))
    assert heartbeat["result"] is True


def test_a_streaming_body_sees_the_context_while_it_is_produced(
    django: dict[str, Served],
) -> None:
    single = django["single_thread"]
    response = get(single, "/stream", RAW)
    assert response.status == 200
    assert response.body == b"start=TST1;later=TST1;"
    # and nothing is left behind on the thread afterwards
    assert get(single, "/stream").body == b"start=none;later=none;"
    assert as_json(get(single, "/probe"))["before"] is None


def test_the_context_var_is_reset_after_a_handler_raises(django: dict[str, Served]) -> None:
    single = django["single_thread"]  # one thread serves both requests
    failed = get(single, "/boom", RAW)
    assert failed.status == 500
    assert RAW[:40] not in failed.body
    body = as_json(get(single, "/probe"))
    assert body["before"] is None
    assert body["tenant"] is None
    assert body["current_is_ctx"] is True


def test_the_child_log_holds_no_header_content(django: dict[str, Served], django_log: Path) -> None:
    get(django["trusted"], "/whoami", b'{"tenant": {"id": "SECRET-MARKER-42"')
    log = django_log.read_bytes()
    assert b"reason=not_json" in log  # the reason is logged...
    assert b"SECRET-MARKER-42" not in log  # ...never the header's content
