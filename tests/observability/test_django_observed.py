"""Django (WSGI handler on a real werkzeug server, in a child process) behaves as the
ASGI/WSGI middlewares do: the inbound ``traceparent`` is the parent of the view's
spans and a log record made in the view carries the tenant, request id and trace id.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.connector.loopback import Loopback
from tests.connector.test_propagation_e2e import header_for
from tests.integration.servers import child_server

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


@pytest.fixture(scope="module")
def django_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("django") / "stderr.log"
    with child_server("tests.observability.django_server", [], log) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def gateway() -> Iterator[Loopback]:
    server = Loopback("gateway").start()
    try:
        yield server
    finally:
        server.stop()


def test_inbound_traceparent_is_the_parent_and_logs_are_correlated(
    django_url: str, gateway: Loopback
) -> None:
    answer = httpx.get(
        f"{django_url}/ctx",
        headers={
            "traceparent": f"00-{TRACE}-{PARENT}-01",
            "x-request-id": "req-dj-1",
            "soajsinjectobj": header_for(gateway).decode(),
        },
        timeout=10,
    ).json()
    assert answer["trace_id"] == TRACE
    assert answer["parent"] == PARENT
    assert answer["log_trace_id"] == TRACE
    assert answer["request_id"] == "req-dj-1"
    assert answer["tenant"] not in (None, "-")


@pytest.mark.parametrize(
    "hostile", ["garbage", "00-" + "0" * 32 + "-" + "0" * 16 + "-01", "00-" + "a" * 5000]
)
def test_a_hostile_traceparent_is_ignored(django_url: str, hostile: str) -> None:
    answer = httpx.get(f"{django_url}/ctx", headers={"traceparent": hostile}, timeout=10)
    assert answer.status_code == 200
    body = answer.json()
    assert body["parent"] == ""  # a trace of its own
    assert body["trace_id"] != "0" * 32
    assert body["request_id"] == "-"


def test_metrics_on_the_service_port_when_asked(django_url: str, gateway: Loopback) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    def accepted() -> float:
        answer = httpx.get(f"{django_url}/metrics", timeout=10)
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
        for family in text_string_to_metric_families(answer.text):
            for sample in family.samples:
                if sample.name == "soajs_context_headers_total" and sample.labels == {
                    "outcome": "accepted",
                    "reason": "ok",
                }:
                    return sample.value
        return 0.0

    before = accepted()
    for _ in range(3):
        httpx.get(f"{django_url}/ctx", headers={"soajsinjectobj": header_for(gateway).decode()})
    assert accepted() == before + 3


def test_no_leak_between_requests(django_url: str) -> None:
    httpx.get(f"{django_url}/ctx", headers={"traceparent": f"00-{TRACE}-{PARENT}-01"}, timeout=10)
    body = httpx.get(f"{django_url}/ctx", timeout=10).json()
    assert body["trace_id"] != TRACE and body["parent"] == ""
