"""The three examples answer /whoami with what the gateway injected.

In-process clients from the testing kit (soajs.testing): requests come from a
trusted gateway address, with the header's bytes delivered as a real server
delivers them; the examples run with SOAJS_TRUSTED_GATEWAYS=127.0.0.1.
"""

from __future__ import annotations

import asyncio
import importlib
import os
from typing import Any

import httpx
import pytest

from soajs.testing import (
    asgi_async_client,
    make_inject_header,
    make_urac,
    wsgi_client,
    wsgi_header_environ,
)
from tests.conftest import FIXTURES

RAW = (FIXTURES / "soajsinjectobj_raw.txt").read_bytes().strip()
USER = make_inject_header(
    tenant_id="t1",
    tenant_code="TNT",
    tenant_name="Café",
    urac=make_urac(id="u1", username="zoë", first_name="Zoë", last_name="X"),
).encode("utf-8")


@pytest.fixture(autouse=True)
def _trusted_gateway(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOAJS_TRUSTED_GATEWAYS", "127.0.0.1")


def fastapi_get(path: str, header: bytes | None) -> tuple[int, Any]:
    module = importlib.reload(importlib.import_module("examples.fastapi_app"))

    async def call() -> httpx.Response:
        async with asgi_async_client(module.app, header) as client:
            return await client.get(path)

    response = asyncio.run(call())
    return response.status_code, response.json()


def flask_get(path: str, header: bytes | None) -> tuple[int, Any]:
    module = importlib.reload(importlib.import_module("examples.flask_app"))
    response = wsgi_client(module.app, header).get(path)
    return response.status_code, response.get_json()


def django_get(path: str, header: bytes | None) -> tuple[int, Any]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_app.settings")
    import django

    django.setup()
    from django.test import Client

    # Django's test client sends REMOTE_ADDR=127.0.0.1 already
    response = Client().get("/" + path.lstrip("/"), **wsgi_header_environ(header))
    return response.status_code, response.json()


CLIENTS = [
    pytest.param(fastapi_get, id="fastapi"),
    pytest.param(flask_get, id="flask"),
    pytest.param(django_get, id="django"),
]


@pytest.mark.parametrize("get", CLIENTS)
def test_whoami_shows_the_injected_tenant(get: Any) -> None:
    status, body = get("/whoami", RAW)
    assert status == 200
    assert body["tenant"] == {"id": "5f0a1b2c3d4e5f6a7b8c9d01", "code": "TST1",
                              "name": "Test Tenant One"}  # fmt: skip
    assert body["application"] == {"product": "HELLO", "package": "HELLO_BASIC"}


@pytest.mark.parametrize("get", CLIENTS)
def test_whoami_user_with_accents(get: Any) -> None:
    status, body = get("/whoami", USER)
    assert status == 200
    assert body["tenant"]["name"] == "Café"
    assert body["user"]["username"] == "zoë"
    assert body["user"]["first_name"] == "Zoë"


@pytest.mark.parametrize("get", CLIENTS)
@pytest.mark.parametrize("header", [None, b"{", b'{"tenant": {"id": "x"}}'])
def test_whoami_without_a_usable_header(get: Any, header: bytes | None) -> None:
    status, body = get("/whoami", header)
    assert status == 200
    assert body["tenant"] is None


def test_fastapi_dependency_answers_401_problem_json() -> None:
    status, body = fastapi_get("/private", None)
    assert status == 401
    assert body["status"] == 401
    assert fastapi_get("/private", RAW)[0] == 200


def test_the_examples_ignore_the_header_from_outside_the_trusted_gateways() -> None:
    module = importlib.reload(importlib.import_module("examples.flask_app"))
    answer = wsgi_client(module.app, RAW, peer="10.1.2.3").get("/whoami").get_json()
    assert answer == {"tenant": None, "user": None}
