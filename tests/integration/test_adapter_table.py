"""Hostile and edge-case headers end to end through each adapter on a real server.

uvicorn + FastAPI, werkzeug + Flask and Django (werkzeug, child process), each
once plain and once in strict mode. Headers are sent byte for byte over a raw
socket. No case may give a 500 or put the header's content in the answer;
strict mode answers 400 problem+json to every request without a valid context.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI, Request
from flask import Flask, g, request

from soajs.contrib.fastapi import setup
from soajs.contrib.flask import SOAJS
from soajs.middleware import get_soajs_context
from tests.conftest import FIXTURES
from tests.integration.servers import (
    BEFORE,
    RawResponse,
    Served,
    asgi_record_before,
    django_servers,
    probe_body,
    raw_get,
    uvicorn_server,
    werkzeug_server,
    wsgi_record_before,
)

MARKER = "MARKER-9c1e77"
RAW = (FIXTURES / "soajsinjectobj_raw.txt").read_bytes().strip()
MAX = 4096  # the adapters' max_header_size in this module
OPTIONS: dict[str, Any] = {"trusted_gateways": "*", "max_header_size": MAX}


def obj(**extra: Any) -> bytes:
    """A header whose tenant id carries the marker, plus ``extra`` top-level fields."""
    return json.dumps({"tenant": {"id": MARKER, "code": "X"}, **extra}).encode()


def nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


UTF8 = json.dumps(
    {"tenant": {"id": "t-1", "code": "UTF8", "name": "Café 東京 🚀"},
     "urac": {"username": "zoë", "firstName": quote("Zoë 山田")}},
    ensure_ascii=False,
).encode()  # fmt: skip

# (header values sent, the tenant code the handler must see or None)
CASES = [
    pytest.param([RAW], "TST1", id="gateway-capture"),
    pytest.param([quote(UTF8).encode()], "UTF8", id="percent-encoded-valid"),
    pytest.param([UTF8], "UTF8", id="raw-utf8-valid"),
    pytest.param([obj(param={"pad": MARKER * (MAX // len(MARKER))})], None, id="oversized"),
    pytest.param([obj(), RAW], None, id="duplicate-header"),
    pytest.param(
        [b'{"tenant": {"id": "' + MARKER.encode() + b'\xff\xfe", "code": "X"}}'],
        None,
        id="not-utf8",
    ),
    pytest.param([obj()[:-1] + b', "geo": {"lat": NaN}}'], None, id="nan"),
    pytest.param(
        [obj()[:-1] + b', "param": ' + nested(200).encode() + b"}"], None, id="deeply-nested"
    ),
    pytest.param([b"[" + obj() + b"]"], None, id="array"),
    pytest.param([json.dumps({"tenant": {"id": MARKER}}).encode()], None, id="no-tenant-code"),
    pytest.param([b""], None, id="empty-value"),
    pytest.param([obj() + b"\t; " + MARKER.encode() + b"=1"], None, id="trailing-junk"),
    pytest.param([obj()[:-1] + b', "geo": {"n": ' + b"9" * 5000 + b"}}"], None, id="huge-integer"),
    pytest.param(
        [b'{"tenant": {"id": "' + MARKER.encode() + b'", "code": "X", "name": "\\ud800"}}'],
        None,
        id="lone-surrogate",
    ),
    pytest.param(
        [obj()[:-1] + b', "geo": {"lat": 1e999}}'],
        None,
        id="overflowing-float",
    ),
]


# -- the three adapters ------------------------------------------------------------------
def fastapi_app(**options: Any) -> Any:
    app = FastAPI()
    setup(app, **options)

    @app.get("/probe")
    async def probe(request: Request) -> Any:
        return probe_body(get_soajs_context(request), request.scope.get(BEFORE))

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("handler failed")

    return asgi_record_before(app)


def flask_app(**options: Any) -> Flask:
    app = Flask(__name__)
    app.config["PROPAGATE_EXCEPTIONS"] = True  # the exception crosses the middleware
    SOAJS(app, **options)

    @app.get("/probe")
    def probe() -> Any:
        assert g.soajs is get_soajs_context(request)
        return probe_body(g.soajs, request.environ.get(BEFORE))

    @app.get("/boom")
    def boom() -> Any:
        raise RuntimeError("handler failed")

    app.wsgi_app = wsgi_record_before(app.wsgi_app)  # type: ignore[method-assign]
    return app


@dataclass
class Adapter:
    plain: Served
    strict: Served
    raises_through: bool = True  # the handler's exception reaches the server (500)


@pytest.fixture(scope="module")
def fastapi() -> Iterator[Adapter]:
    with (
        uvicorn_server(fastapi_app(**OPTIONS)) as plain,
        uvicorn_server(fastapi_app(**OPTIONS, strict=True)) as strict,
    ):
        yield Adapter(plain, strict)


@pytest.fixture(scope="module")
def flask() -> Iterator[Adapter]:
    # single-threaded: one thread serves every request, so a leaked context would show
    with (
        werkzeug_server(flask_app(**OPTIONS), threaded=False) as plain,
        werkzeug_server(flask_app(**OPTIONS, strict=True), threaded=False) as strict,
    ):
        yield Adapter(plain, strict)


@pytest.fixture(scope="module")
def django(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Adapter]:
    log = tmp_path_factory.mktemp("django-table") / "stderr.log"
    sets = [dict(OPTIONS, _threaded=False), dict(OPTIONS, strict=True, _threaded=False)]
    with django_servers(sets, log) as (plain, strict):
        yield Adapter(plain, strict)


@pytest.fixture(params=["fastapi", "flask", "django"])
def adapter(request: pytest.FixtureRequest) -> Adapter:
    found: Adapter = request.getfixturevalue(request.param)
    return found


def send(served: Served, values: list[bytes], path: str = "/probe") -> RawResponse:
    return raw_get(served.port, path, [(b"soajsinjectobj", value) for value in values])


# -- the table -------------------------------------------------------------------------------
@pytest.mark.parametrize(("values", "tenant"), CASES)
def test_each_header_through_each_adapter(
    adapter: Adapter, values: list[bytes], tenant: str | None
) -> None:
    response = send(adapter.plain, values)
    assert response.status == 200, response.raw[:300]
    body = json.loads(response.body)
    assert body["tenant"] == tenant
    assert body["current_is_ctx"] is True
    assert body["before"] is None
    if tenant is None:
        assert MARKER.encode() not in response.raw
    if tenant == "UTF8":
        assert (body["name"], body["first_name"]) == ("Café 東京 🚀", "Zoë 山田")


@pytest.mark.parametrize(("values", "tenant"), CASES)
def test_each_header_through_each_adapter_in_strict_mode(
    adapter: Adapter, values: list[bytes], tenant: str | None
) -> None:
    response = send(adapter.strict, values)
    if tenant is not None:
        assert response.status == 200
        assert json.loads(response.body)["tenant"] == tenant
        return
    assert response.status == 400, response.raw[:300]
    assert response.headers["content-type"] == "application/problem+json"
    problem = json.loads(response.body)
    assert problem["status"] == 400
    assert MARKER.encode() not in response.raw


def test_strict_mode_without_header_and_health_paths(adapter: Adapter) -> None:
    response = send(adapter.strict, [])
    assert response.status == 400
    assert response.headers["content-type"] == "application/problem+json"
    heartbeat = send(adapter.strict, [], path="/heartbeat")
    assert heartbeat.status == 200
    assert json.loads(heartbeat.body)["result"] is True


def test_the_context_var_is_reset_after_the_handler_raises(adapter: Adapter) -> None:
    failed = send(adapter.plain, [RAW], path="/boom")
    assert failed.status == 500
    assert b"TST1" not in failed.body
    after = json.loads(send(adapter.plain, []).body)
    assert after["before"] is None  # nothing left behind by the failed request
    assert after["tenant"] is None
    assert after["current_is_ctx"] is True
