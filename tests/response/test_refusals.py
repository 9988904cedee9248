"""Strict-mode refusals in the envelope when the service chooses it, on real servers;
problem+json, byte for byte as before, when it does not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from soajs import Config, ConfigurationError
from soajs.contrib.fastapi import SoajsContext, setup
from soajs.middleware import SOAJSMiddleware, SOAJSWSGIMiddleware
from soajs.middleware.core import STRICT_BODY, refusal
from soajs.middleware.problem import PROBLEM_CONTENT_TYPE
from tests.integration.servers import uvicorn_server, werkzeug_server
from tests.response.test_handlers import django_process

ENVELOPE_REFUSAL = (
    b'{"result":false,"errors":{"codes":[142],"details":[{"code":142,"message":'
    b'"This service only answers requests proxied by the SOAJS gateway."}]}}'
)
PROBLEM_REFUSAL = (
    b'{"type":"about:blank","title":"Missing or invalid SOAJS context","status":400,'
    b'"detail":"This service only answers requests proxied by the SOAJS gateway."}'
)
OPTIONS: dict[str, Any] = {"trusted_gateways": "*", "health": False, "strict": True}


class _Registry:
    """What ``refusal`` reads of a RegistryManager: its ``config``."""

    def __init__(self, config: Config | None) -> None:
        self.config = config


def _cfg(fmt: str) -> Config:
    return Config(name="orders", group="Shop", port=4381, response_format=fmt)


def test_the_problem_body_is_unchanged() -> None:
    assert STRICT_BODY == PROBLEM_REFUSAL
    assert refusal(None, None) == (PROBLEM_REFUSAL, PROBLEM_CONTENT_TYPE)
    assert refusal(_Registry(None), None) == (PROBLEM_REFUSAL, PROBLEM_CONTENT_TYPE)


def test_the_format_comes_from_the_option_then_the_registry_config() -> None:
    assert refusal(_Registry(_cfg("envelope")), None) == (ENVELOPE_REFUSAL, "application/json")
    assert refusal(_Registry(_cfg("envelope")), "problem")[0] == PROBLEM_REFUSAL
    assert refusal(_Registry(_cfg("problem")), "envelope")[0] == ENVELOPE_REFUSAL
    with pytest.raises(ConfigurationError, match="response_format"):
        refusal(None, "xml")


def asgi_app(**options: Any) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("a refused request must not reach the app")

    return SOAJSMiddleware(app, **{**OPTIONS, **options})


def wsgi_app(**options: Any) -> Any:
    def app(environ: Any, start_response: Any) -> Any:
        raise AssertionError("a refused request must not reach the app")

    return SOAJSWSGIMiddleware(app, **{**OPTIONS, **options})


@pytest.fixture(params=["asgi", "wsgi", "django"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def serve(kind: str, tmp_path: Path, **options: Any) -> Any:
    if kind == "asgi":
        return uvicorn_server(asgi_app(**options))
    if kind == "wsgi":
        return werkzeug_server(wsgi_app(**options))
    return _django(tmp_path, options)


class _DjangoServed:
    def __init__(self, url: str) -> None:
        self.url = url


def _django(tmp_path: Path, options: dict[str, Any]) -> Any:
    from contextlib import contextmanager

    @contextmanager
    def run() -> Iterator[_DjangoServed]:
        with django_process({"strict": True, **options}, tmp_path / "django.log") as url:
            yield _DjangoServed(url)

    return run()


@pytest.mark.parametrize("fmt", ["envelope", "problem", None])
def test_refusal_on_a_real_server(kind: str, fmt: str | None, tmp_path: Path) -> None:
    options = {} if fmt is None else {"response_format": fmt}
    with serve(kind, tmp_path, **options) as served:
        answer = httpx.get(served.url + "/known", headers={"soajsinjectobj": "{bad"}, timeout=10)
    assert answer.status_code == 400
    if fmt == "envelope":
        assert answer.headers["content-type"] == "application/json"
        assert answer.content == ENVELOPE_REFUSAL
    else:
        assert answer.headers["content-type"] == PROBLEM_CONTENT_TYPE
        assert answer.content == PROBLEM_REFUSAL


def _ws_app(**options: Any) -> FastAPI:
    app = FastAPI()
    setup(app, **{**OPTIONS, **options})

    @app.get("/private")
    async def private(ctx: SoajsContext) -> dict[str, str]:
        return {"tenant": ctx.tenant.code}

    return app


def test_websocket_refusal_in_the_envelope() -> None:
    with (
        uvicorn_server(_ws_app(response_format="envelope")) as served,
        pytest.raises(InvalidStatus) as refused,
        connect(f"ws://127.0.0.1:{served.port}/ws", open_timeout=5),
    ):
        pass
    response = refused.value.response
    assert response.status_code in (400, 403)
    if response.status_code == 400:  # the server has websocket.http.response
        assert response.headers["content-type"] == "application/json"
        assert response.body == ENVELOPE_REFUSAL


@pytest.mark.parametrize("fmt", ["envelope", "problem"])
def test_require_context_answers_in_the_chosen_format(fmt: str) -> None:
    app = _ws_app(response_format=fmt, strict=False)
    with uvicorn_server(app) as served:
        answer = httpx.get(served.url + "/private", timeout=10)
    assert answer.status_code == 401
    if fmt == "envelope":
        assert answer.headers["content-type"] == "application/json"
        assert answer.json()["errors"]["codes"] == [142]
    else:
        assert answer.headers["content-type"] == PROBLEM_CONTENT_TYPE
        assert answer.json()["status"] == 401
