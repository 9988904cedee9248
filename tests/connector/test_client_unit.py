"""The connector's requests as sent, checked against pytest-httpx (no network)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from pytest_httpx import HTTPXMock

from soajs.connector import (
    AsyncServiceConnector,
    NoRouteError,
    RetryPolicy,
    ServiceConnector,
    ServiceUnavailableError,
    inbound,
    transport,
)
from tests.connector.conftest import E_KEY, awareness, make_context

GW = "10.0.0.1:4000"
FAST = RetryPolicy(attempts=3, backoff=0.001, max_backoff=0.002)


def connector(*mesh: tuple[str, str, str, str]) -> ServiceConnector:
    return ServiceConnector(make_context(awareness(GW, *mesh)), retry=FAST)


def test_gateway_request_as_sent(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        method="PUT",
        url="http://10.0.0.1:4000/b/v2/items/7?x=1",  # the token is a header, not in the URL
        match_headers={"key": E_KEY, "X-Extra": "yes", "traceparent": "tp", "access_token": "tok"},
        json={"ok": True},
    )
    with inbound({"traceparent": "tp"}, query="access_token=tok"):
        answer = connector().put(
            "b",
            "items/7",
            version="2",
            params={"x": "1"},
            headers={"X-Extra": "yes", "soajsinjectobj": "{}"},
            json={"a": 1},
        )
    assert answer.json() == {"ok": True}
    sent = httpx_mock.get_request()
    assert sent is not None
    assert "soajsinjectobj" not in sent.headers  # never to the gateway, even if asked
    assert sent.content == b'{"a":1}'


def test_mesh_request_as_sent(httpx_mock: HTTPXMock) -> None:
    conn = connector(("b", "1", "10.0.0.5:4381", "1"))
    context = conn.context
    assert context is not None and context.raw_header is not None
    httpx_mock.add_response(url="http://10.0.0.5:4381/hello", method="DELETE")
    conn.delete("b", "/hello", version="1")
    sent = httpx_mock.get_request()
    assert sent is not None
    assert sent.headers.raw[-1] == (b"soajsinjectobj", context.raw_header)
    assert "key" not in sent.headers


def test_timeouts_default_and_per_call(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(is_reusable=True)
    conn = ServiceConnector(make_context(awareness(GW)), timeout=1.5)
    conn.get("b", "/")
    conn.get("b", "/", timeout=httpx.Timeout(9.0))
    first, second = httpx_mock.get_requests()
    # each operation gets at most what is left of the attempt's deadline (= the timeout here)
    assert first.extensions["timeout"]["read"] == pytest.approx(1.5, abs=0.1)
    assert second.extensions["timeout"]["read"] == pytest.approx(9.0, abs=0.1)
    assert first.extensions["timeout"]["read"] <= 1.5


@pytest.mark.parametrize(
    ("method", "idempotent", "sent"),
    [
        pytest.param("GET", None, 3, id="get-retried"),
        pytest.param("PUT", None, 3, id="put-retried"),
        pytest.param("DELETE", None, 3, id="delete-retried"),
        pytest.param("POST", None, 1, id="post-not-retried"),
        pytest.param("PATCH", None, 1, id="patch-not-retried"),
        pytest.param("POST", True, 3, id="post-said-idempotent"),
        pytest.param("GET", False, 1, id="get-said-not-idempotent"),
    ],
)
def test_which_methods_are_retried(
    httpx_mock: HTTPXMock, method: str, idempotent: bool | None, sent: int
) -> None:
    httpx_mock.add_response(status_code=503, is_reusable=True)
    answer = connector().request("b", method, "/x", idempotent=idempotent)
    assert answer.status_code == 503  # retries ran out: the last answer is returned
    assert len(httpx_mock.get_requests()) == sent


@pytest.mark.parametrize("status", [502, 503, 504])
def test_retried_statuses(httpx_mock: HTTPXMock, status: int) -> None:
    httpx_mock.add_response(status_code=status)
    httpx_mock.add_response(status_code=200)
    assert connector().get("b", "/").status_code == 200


@pytest.mark.parametrize("status", [400, 404, 409, 500])
def test_other_statuses_are_answers(httpx_mock: HTTPXMock, status: int) -> None:
    httpx_mock.add_response(status_code=status)
    assert connector().get("b", "/").status_code == status


def test_transport_errors_after_retries(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.ReadTimeout("timed out"), is_reusable=True)
    with pytest.raises(ServiceUnavailableError) as info:
        connector().get("b", "/slow", version="1")
    error = info.value
    assert error.attempts == 3
    assert error.target == GW
    assert isinstance(error.__cause__, httpx.ReadTimeout)
    assert "service 'b' v1" in str(error)
    assert "ReadTimeout" in str(error)


def test_pool_timeout_is_not_retried(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.PoolTimeout("pool full"))
    with pytest.raises(ServiceUnavailableError):
        connector().get("b", "/")


def test_no_route_sends_nothing() -> None:
    with pytest.raises(NoRouteError):
        ServiceConnector(make_context(None)).get("b", "/")


def test_async_twin(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=503, headers={"Retry-After": "0"})
    httpx_mock.add_response(url="http://10.0.0.1:4000/b/x", json={"n": 1})

    async def main() -> httpx.Response:
        try:
            conn = AsyncServiceConnector(make_context(awareness(GW)), retry=FAST)
            return await conn.get("b", "/x")
        finally:
            await transport.aclose()

    assert asyncio.run(main()).json() == {"n": 1}
    assert len(httpx_mock.get_requests()) == 2


def test_shortcuts_use_their_method(httpx_mock: HTTPXMock) -> None:
    conn = connector()
    for method in ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"):
        httpx_mock.add_response(method=method)
        getattr(conn, method.lower())("b", "/")
    assert [r.method for r in httpx_mock.get_requests()] == [
        "GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"
    ]  # fmt: skip
