"""``RegistryClient``: what it sends to the control plane and every way a call fails.

The control plane is mocked with pytest-httpx at the transport level, so the
real ``httpx.Client`` of the registry client builds and sends each request.
A response registered with ``httpx_mock`` only answers a request that matches
it exactly (method, URL, query, headers, body); an unused response fails the
test at teardown, so these matchers are assertions on what the client sends.
Bodies come from the real gateway 4.3.4 captures in ``tests/fixtures``.
"""

from __future__ import annotations

import gzip
import json
import socket
import time
import traceback
import tracemalloc
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

from soajs.errors import ConfigurationError, ControlPlaneError, RegistryError, SoajsError
from soajs.models import Registry
from soajs.registry.client import DEFAULT_TIMEOUT, RegistryClient, parse_envelope
from tests.conftest import load_fixture

BASE = "http://control-plane.test:5000"
GET_REGISTRY = f"{BASE}/getRegistry"
HELLO_QUERY = {"env": "dev", "serviceName": "hello", "type": "service"}
SENT_HEADERS = {"accept": "application/json", "user-agent": "soajs-python"}

CAPTURE = load_fixture("getRegistry_dev_hello.json")
REGISTER = load_fixture("register_hello_response.json")
HEARTBEAT = load_fixture("maintenance_heartbeat.json")
GATEWAY = load_fixture("gateway_responses.json")


def envelope(route: str = "/getRegistry", **fields: Any) -> dict[str, Any]:
    """An envelope as the gateway writes it, with ``fields`` added or replaced."""
    body: dict[str, Any] = {
        "result": True,
        "ts": 1795382001553,
        "service": {
            "service": "soajs.controller",
            "version": "4.3.4",
            "type": "rest",
            "route": route,
        },
    }
    body.update(fields)
    return body


def registry_with(**changes: Any) -> dict[str, Any]:
    """The captured envelope with some fields of its registry ``data`` replaced."""
    body: dict[str, Any] = json.loads(json.dumps(CAPTURE["body"]))
    body["data"].update(changes)
    return body


@pytest.fixture
def client() -> Iterator[RegistryClient]:
    with RegistryClient(BASE) as registry_client:
        yield registry_client


# -- GET /getRegistry: what is sent, what comes back ---------------------------------


@pytest.mark.parametrize(
    ("env", "service_type", "sent_env"),
    [
        pytest.param("dev", "service", "dev", id="dev-service"),
        pytest.param("DEV", "service", "dev", id="upper-case-env-is-lowered"),
        pytest.param("Stg", "daemon", "stg", id="mixed-case-env-daemon"),
    ],
)
def test_get_registry_sends_get_with_env_service_name_and_type(
    httpx_mock: HTTPXMock, client: RegistryClient, env: str, service_type: Any, sent_env: str
) -> None:
    httpx_mock.add_response(
        method="GET",
        url=GET_REGISTRY,
        match_params={"env": sent_env, "serviceName": "hello", "type": service_type},
        match_headers=SENT_HEADERS,
        json=CAPTURE["body"],
    )

    registry = client.get_registry(env, "hello", service_type)

    assert isinstance(registry, Registry)
    request = httpx_mock.get_request()
    assert request is not None
    assert request.method == "GET"
    assert request.url.path == "/getRegistry"
    assert dict(request.url.params) == {
        "env": sent_env,
        "serviceName": "hello",
        "type": service_type,
    }
    assert request.content == b""


def test_get_registry_type_defaults_to_service(
    httpx_mock: HTTPXMock, client: RegistryClient
) -> None:
    httpx_mock.add_response(
        method="GET", url=GET_REGISTRY, match_params=HELLO_QUERY, json=CAPTURE["body"]
    )
    client.get_registry("dev", "hello")


def test_get_registry_returns_the_captured_registry(
    httpx_mock: HTTPXMock, client: RegistryClient, captured_registry: dict[str, Any]
) -> None:
    httpx_mock.add_response(
        method="GET",
        url=GET_REGISTRY,
        match_params=HELLO_QUERY,
        match_headers=SENT_HEADERS,
        json=CAPTURE["body"],
        headers={"Content-Type": "application/json"},
    )

    registry = client.get_registry("dev", "hello")

    assert isinstance(registry, Registry)
    assert registry == Registry.model_validate(captured_registry)
    assert registry.name == "dev"
    assert registry.environment == "dev"
    assert registry.port == 4000
    assert registry.time_loaded == 1795381999494
    assert set(registry.core_dbs) == {"provision", "hello_core", "session"}
    assert registry.core_dbs["hello_core"].servers is not None
    assert registry.core_dbs["hello_core"].servers[0].port == 27017
    assert set(registry.services) == {"controller", "hello"}
    assert registry.services["hello"].port == 4381
    assert registry.service_config.awareness.auto_reload_registry == 3_600_000
    assert registry.service_config.ports.maintenance_inc == 1000
    assert registry.awareness is not None
    assert (registry.awareness.host, registry.awareness.port) == ("127.0.0.1", 4000)
    key = registry.service_config.key
    assert key is not None and key.password is not None
    assert key.password.get_secret_value() == "soajs-python holdout rig key"


def test_base_url_trailing_slash_is_dropped(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        method="GET", url=GET_REGISTRY, match_params=HELLO_QUERY, json=CAPTURE["body"]
    )
    with RegistryClient(BASE + "/") as registry_client:
        assert registry_client.base_url == BASE
        registry_client.get_registry("dev", "hello")


def test_parse_envelope_returns_data() -> None:
    response = httpx.Response(200, json=envelope(data={"a": [1]}))
    assert parse_envelope(response, "/anything") == {"a": [1]}


# -- failures: one error type, with the control plane's message ----------------------

#: What the mocked control plane does: an exception to raise, or add_response kwargs.
Reply = BaseException | dict[str, Any]


def _html(status: int) -> dict[str, Any]:
    return {
        "status_code": status,
        "text": "<html><body>Bad Gateway</body></html>",
        "headers": {"content-type": "text/html"},
    }


REAL_148 = GATEWAY["badkey_private_service"]  # HTTP 500, code 148

FAILURES = [
    # -- the control plane said no ---------------------------------------------------
    pytest.param(
        {
            "json": envelope(
                result=False,
                errors={
                    "codes": [130, 131],
                    "details": [
                        {"code": 130, "message": "Unknown service."},
                        {"code": 131, "message": "second detail, not shown"},
                    ],
                },
            )
        },
        ["Unknown service."],
        130,
        200,
        id="errors-details-first-message",
    ),
    pytest.param(
        {
            "json": envelope(
                result=True,
                data={},
                errors={"codes": [600], "details": [{"code": 600, "message": "busy"}]},
            )
        },
        ["busy"],
        600,
        200,
        id="details-with-result-true",
    ),
    pytest.param(
        {"json": envelope(result=False, errors={"codes": [7], "details": [{"code": 7}]})},
        ["error without a message"],
        7,
        200,
        id="detail-without-message",
    ),
    pytest.param(
        {"json": envelope(result=False)},
        ["result: false without details"],
        None,
        200,
        id="result-false-without-details",
    ),
    pytest.param(
        {"json": envelope(result=False, errors={"codes": [], "details": []})},
        ["result: false without details"],
        None,
        200,
        id="result-false-empty-details",
    ),
    pytest.param(
        {"json": {"data": CAPTURE["body"]["data"]}},
        ["result: false"],
        None,
        200,
        id="no-result-field",
    ),
    # -- HTTP status --------------------------------------------------------------------
    pytest.param(
        {"status_code": REAL_148["status"], "json": REAL_148["body"]},
        ["Unable to load the key information"],
        148,
        500,
        id="http-500-real-gateway-envelope-error",
    ),
    pytest.param(
        {"status_code": 500, "json": envelope(data=CAPTURE["body"]["data"])},
        ["answered HTTP 500"],
        None,
        500,
        id="http-500-envelope-without-error",
    ),
    pytest.param(
        {"status_code": 500, "text": "Internal Server Error"},
        ["not JSON", "21 bytes"],
        None,
        500,
        id="http-500-no-json",
    ),
    pytest.param(
        {"status_code": 500, "content": b""},
        ["not JSON", "0 bytes"],
        None,
        500,
        id="http-500-empty-body",
    ),
    pytest.param(
        _html(502),
        ["not JSON", "text/html"],
        None,
        502,
        id="http-502-html",
    ),
    pytest.param(
        {"status_code": 302, "headers": {"location": "/elsewhere"}},
        ["not JSON"],
        None,
        302,
        id="redirect-not-followed",
    ),
    # -- a 200 that is not an envelope -----------------------------------------------
    pytest.param(_html(200), ["not JSON", "text/html"], None, 200, id="html-200"),
    pytest.param(
        {"content": b'{"result": true, "data": {', "headers": {"content-type": "application/json"}},
        ["not JSON", "application/json"],
        None,
        200,
        id="truncated-json",
    ),
    pytest.param(
        {"content": b'{"result": true, "data": {"name": "\xff"}}'},
        ["not JSON"],
        None,
        200,
        id="json-not-utf8",
    ),
    pytest.param(
        {"json": [envelope(data={})]},
        ["JSON that is not an envelope (list)"],
        None,
        200,
        id="json-list",
    ),
    pytest.param(
        {"json": "ok"}, ["JSON that is not an envelope (str)"], None, 200, id="json-string"
    ),
    pytest.param(
        {"content": b"null"},
        ["JSON that is not an envelope (NoneType)"],
        None,
        200,
        id="json-null",
    ),
    pytest.param(
        {"json": envelope(result=False, errors="boom")},
        ["malformed envelope", "errors"],
        None,
        200,
        id="errors-not-an-object",
    ),
    # -- data that is not a registry -------------------------------------------------
    pytest.param(
        {"json": envelope(data=[CAPTURE["body"]["data"]])},
        ["data is not a registry object (got list)"],
        None,
        None,
        id="data-list",
    ),
    pytest.param(
        {"json": envelope(data="dev")},
        ["data is not a registry object (got str)"],
        None,
        None,
        id="data-string",
    ),
    pytest.param(
        {"json": envelope()},
        ["data is not a registry object (got NoneType)"],
        None,
        None,
        id="data-missing",
    ),
    pytest.param(
        {"json": registry_with(coreDB="mongodb://127.0.0.1")},
        ["expected shape", "coreDB", "valid dictionary"],
        None,
        None,
        id="coreDB-is-a-string",
    ),
    pytest.param(
        {"json": registry_with(services={"hello": {"group": "x", "port": "not-a-port"}})},
        ["expected shape", "services.hello.port"],
        None,
        None,
        id="service-port-not-a-number",
    ),
    pytest.param(
        {"json": registry_with(serviceConfig={"awareness": []})},
        ["expected shape", "serviceConfig.awareness"],
        None,
        None,
        id="awareness-is-a-list",
    ),
    # -- transport ------------------------------------------------------------------
    pytest.param(
        httpx.ReadTimeout("timed out"),
        [f"no answer from {BASE} within 5s", "ReadTimeout"],
        None,
        None,
        id="read-timeout",
    ),
    pytest.param(
        httpx.ConnectTimeout("timed out"),
        [f"no answer from {BASE} within 5s", "ConnectTimeout"],
        None,
        None,
        id="connect-timeout",
    ),
    pytest.param(
        httpx.ConnectError("[Errno 111] Connection refused"),
        [f"cannot reach {BASE}", "Connection refused"],
        None,
        None,
        id="connection-refused",
    ),
    pytest.param(
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        [f"cannot reach {BASE}", "Server disconnected"],
        None,
        None,
        id="server-disconnected",
    ),
]


def _arrange(httpx_mock: HTTPXMock, reply: Reply, route: str = "/getRegistry") -> None:
    matchers: dict[str, Any] = {"method": "GET", "url": BASE + route}
    if route == "/getRegistry":
        matchers["match_params"] = HELLO_QUERY
    if isinstance(reply, BaseException):
        httpx_mock.add_exception(reply, **matchers)
    else:
        httpx_mock.add_response(**matchers, **reply)


@pytest.mark.parametrize(("reply", "pieces", "code", "status"), FAILURES)
def test_get_registry_failure(
    httpx_mock: HTTPXMock,
    client: RegistryClient,
    reply: Reply,
    pieces: list[str],
    code: int | None,
    status: int | None,
) -> None:
    _arrange(httpx_mock, reply)

    with pytest.raises(ControlPlaneError) as excinfo:
        client.get_registry("dev", "hello")

    error = excinfo.value
    assert isinstance(error, RegistryError)
    assert isinstance(error, SoajsError)
    assert error.route == "/getRegistry"
    assert error.code == code
    if status is not None:
        assert error.status == status
    text = str(error)
    assert text.startswith("control plane /getRegistry: ")
    for piece in pieces:
        assert piece in error.message
        assert piece in text
    assert "second detail" not in text
    assert ("(code " in text) == (code is not None)
    if status is not None:
        assert f"[HTTP {status}]" in text
    if isinstance(reply, BaseException):
        assert error.status is None
        assert error.__cause__ is reply


SHAPE_FAILURES = [
    p
    for p in FAILURES
    if isinstance(p.id, str) and p.id.startswith(("data-", "coreDB", "service-", "awareness-"))
]


@pytest.mark.parametrize(("reply", "pieces", "code", "status"), SHAPE_FAILURES)
def test_registry_shape_errors_carry_the_http_status(
    httpx_mock: HTTPXMock,
    client: RegistryClient,
    reply: Reply,
    pieces: list[str],
    code: int | None,
    status: int | None,
) -> None:
    _arrange(httpx_mock, reply)
    with pytest.raises(ControlPlaneError) as excinfo:
        client.get_registry("dev", "hello")
    assert excinfo.value.status == 200


def test_transport_error_without_message_names_the_error(
    httpx_mock: HTTPXMock, client: RegistryClient
) -> None:
    _arrange(httpx_mock, httpx.ConnectError(""))
    with pytest.raises(ControlPlaneError) as excinfo:
        client.get_registry("dev", "hello")
    assert "ConnectError" in excinfo.value.message


def test_shape_error_does_not_leak_a_secret(httpx_mock: HTTPXMock, client: RegistryClient) -> None:
    secret = "pw-that-must-not-leak"
    bad_key = {"key": {"algorithm": "aes256", "password": [secret]}}
    _arrange(httpx_mock, {"json": registry_with(serviceConfig=bad_key)})

    with pytest.raises(ControlPlaneError) as excinfo:
        client.get_registry("dev", "hello")

    assert "serviceConfig.key.password" in excinfo.value.message
    assert secret not in str(excinfo.value)
    assert secret not in "".join(traceback.format_exception(excinfo.value))
    assert secret not in repr(excinfo.value.__context__)
    assert secret not in str(excinfo.value.__context__)


def test_real_gateway_error_envelopes(httpx_mock: HTTPXMock, client: RegistryClient) -> None:
    """Every error envelope captured from gateway 4.3.4 gives its code and message."""
    cases = [c for c in GATEWAY.values() if c["body"]["result"] is False]
    assert len(cases) == 3
    for case in cases:
        _arrange(httpx_mock, {"status_code": case["status"], "json": case["body"]})
    for case in cases:
        detail = case["body"]["errors"]["details"][0]
        with pytest.raises(ControlPlaneError) as excinfo:
            client.get_registry("dev", "hello")
        assert (excinfo.value.message, excinfo.value.code, excinfo.value.status) == (
            detail["message"],
            detail["code"],
            case["status"],
        )


# -- POST /register and GET /heartbeat ----------------------------------------------


def test_register_posts_the_json_body_and_returns_data(
    httpx_mock: HTTPXMock, client: RegistryClient
) -> None:
    body = REGISTER["request"]["body"]
    httpx_mock.add_response(
        method="POST",
        url=f"{BASE}/register",
        match_json=body,
        # pytest-httpx compares raw header names; httpx writes "Content-Type"
        match_headers={**SENT_HEADERS, "Content-Type": "application/json"},
        json=REGISTER["body"],
    )

    data = client.register(body)

    assert data == REGISTER["body"]["data"]
    request = httpx_mock.get_request()
    assert request is not None
    assert request.method == "POST"
    assert request.url.params == httpx.QueryParams()
    assert json.loads(request.content) == body


def test_register_failure_is_a_control_plane_error(
    httpx_mock: HTTPXMock, client: RegistryClient
) -> None:
    httpx_mock.add_response(
        method="POST",
        url=f"{BASE}/register",
        status_code=400,
        json=envelope(
            "/register",
            result=False,
            errors={"codes": [172], "details": [{"code": 172, "message": "bad version"}]},
        ),
    )
    with pytest.raises(ControlPlaneError) as excinfo:
        client.register({"name": "hello", "version": "x"})
    error = excinfo.value
    assert (error.route, error.message, error.code, error.status) == (
        "/register",
        "bad version",
        172,
        400,
    )


def test_heartbeat_real_gateway_answer(httpx_mock: HTTPXMock, client: RegistryClient) -> None:
    httpx_mock.add_response(
        method="GET",
        url=f"{BASE}/heartbeat",
        match_headers=SENT_HEADERS,
        status_code=HEARTBEAT["status"],
        json=HEARTBEAT["body"],
    )
    assert client.heartbeat() is True


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param({"json": envelope("/heartbeat", result=False)}, id="result-false"),
        pytest.param({"status_code": 503, "text": "down"}, id="http-503"),
        pytest.param(httpx.ReadTimeout("timed out"), id="timeout"),
        pytest.param(httpx.ConnectError("[Errno 111] Connection refused"), id="refused"),
    ],
)
def test_heartbeat_failure(httpx_mock: HTTPXMock, client: RegistryClient, reply: Reply) -> None:
    _arrange(httpx_mock, reply, route="/heartbeat")
    with pytest.raises(ControlPlaneError) as excinfo:
        client.heartbeat()
    assert excinfo.value.route == "/heartbeat"


# -- timeout -------------------------------------------------------------------------


def test_default_timeout(httpx_mock: HTTPXMock, client: RegistryClient) -> None:
    assert DEFAULT_TIMEOUT == 5.0
    assert client.timeout == DEFAULT_TIMEOUT
    assert client._http.timeout == httpx.Timeout(5.0)
    httpx_mock.add_response(method="GET", url=f"{BASE}/heartbeat", json=HEARTBEAT["body"])

    client.heartbeat()

    request = httpx_mock.get_request()
    assert request is not None
    assert request.extensions["timeout"] == {
        "connect": 5.0,
        "read": 5.0,
        "write": 5.0,
        "pool": 5.0,
    }


def test_custom_timeout_is_used_and_reported(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.ReadTimeout("timed out"), url=f"{BASE}/heartbeat")
    with RegistryClient(BASE, timeout=0.75) as registry_client:
        assert registry_client.timeout == 0.75
        assert registry_client._http.timeout == httpx.Timeout(0.75)
        with pytest.raises(
            ControlPlaneError, match=r"within 0\.75s: reading the answer timed out \(ReadTimeout\)"
        ):
            registry_client.heartbeat()
    request = httpx_mock.get_request()
    assert request is not None
    assert request.extensions["timeout"]["read"] == 0.75


def test_close_and_context_manager() -> None:
    with RegistryClient(BASE) as registry_client:
        assert not registry_client._http.is_closed
    assert registry_client._http.is_closed


# -- a real closed port (no mock) ----------------------------------------------------


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_connection_refused_on_a_real_closed_port() -> None:
    """No httpx_mock here: a real TCP connect to a port nobody listens on."""
    port = _closed_port()
    base = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    with (
        RegistryClient(base, timeout=3.0) as registry_client,
        pytest.raises(ControlPlaneError) as excinfo,
    ):
        registry_client.get_registry("dev", "hello")
    elapsed = time.monotonic() - started

    error = excinfo.value
    assert error.route == "/getRegistry"
    assert error.status is None
    assert error.code is None
    assert error.message.startswith(f"cannot reach {base}: ")
    assert len(error.message) > len(f"cannot reach {base}: ")
    assert isinstance(error.__cause__, httpx.ConnectError)
    assert elapsed < 3.0, "a refused connection must fail at once, not after the timeout"


def test_absurdly_deep_answers_are_control_plane_errors(httpx_mock: HTTPXMock) -> None:
    """Even a hostile control plane cannot make a failure escape as RecursionError."""
    deep_body = b'{"result": true, "data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    httpx_mock.add_response(content=deep_body)
    deep_value = b'{"v": ' * 600 + b"1" + b"}" * 600
    httpx_mock.add_response(
        content=b'{"result": true, "data": {"custom": {"c": {"value": ' + deep_value + b"}}}}"
    )
    long_int = b'{"result": true, "data": {"timeLoaded": ' + b"7" * 5000 + b"}}"
    httpx_mock.add_response(content=long_int)
    with RegistryClient("http://cp.test") as client:
        # said precisely, not "not JSON"
        with pytest.raises(ControlPlaneError, match="nested deeper than 128 levels"):
            client.get_registry("dev", "hello")
        with pytest.raises(ControlPlaneError, match="nested deeper than 128 levels"):
            client.get_registry("dev", "hello")
        with pytest.raises(ControlPlaneError, match=r"integer too long \(over 4300 digits\)"):
            client.get_registry("dev", "hello")


# -- the size cap, after decoding --------------------------------------------------------

MiB = 1024 * 1024


def test_a_compressed_answer_is_capped_after_decoding() -> None:
    """A gzip bomb (50 MiB in ~50 KiB) is refused at the cap, never decoded whole.

    A plain MockTransport streams the raw bytes (pytest-httpx would decode them
    itself, and the measure would be of the mock).
    """
    bomb = gzip.compress(b'{"result": true, "data": "' + b"0" * (50 * MiB) + b'"}')

    def handler(request: httpx.Request) -> httpx.Response:
        chunks = [bomb[i : i + 65536] for i in range(0, len(bomb), 65536)]
        headers = {"content-encoding": "gzip"}
        return httpx.Response(200, headers=headers, stream=httpx.ByteStream(b"".join(chunks)))

    with RegistryClient(BASE, max_bytes=MiB, transport=httpx.MockTransport(handler)) as client:
        tracemalloc.start()
        try:
            with pytest.raises(ControlPlaneError, match=r"larger than the 1 MiB cap"):
                client.get_registry("dev", "hello")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 8 * MiB, f"peak {peak / MiB:.1f} MiB"


def test_a_compressed_answer_within_the_cap_is_decoded(httpx_mock: HTTPXMock) -> None:
    body = gzip.compress(json.dumps(CAPTURE["body"]).encode())
    httpx_mock.add_response(content=body, headers={"content-encoding": "gzip"})
    with RegistryClient(BASE) as client:
        assert client.get_registry("dev", "hello").services["hello"].port == 4381


def test_an_encoding_that_cannot_be_bounded_is_refused(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(content=b"...", headers={"content-encoding": "br"})
    with RegistryClient(BASE) as client, pytest.raises(ControlPlaneError, match="'br'"):
        client.get_registry("dev", "hello")


def test_the_client_asks_for_no_compression(httpx_mock: HTTPXMock, client: RegistryClient) -> None:
    httpx_mock.add_response(match_headers={"accept-encoding": "identity"}, json=HEARTBEAT["body"])
    assert client.heartbeat()


@pytest.mark.parametrize("bad", [0, -1, True, 1.5])
def test_max_bytes_must_be_a_positive_integer(bad: Any) -> None:
    with pytest.raises(ConfigurationError, match="max_bytes must be a positive integer"):
        RegistryClient(BASE, max_bytes=bad)
