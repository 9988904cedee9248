"""The three examples answer /whoami with what the gateway injected (in-process clients)."""

from __future__ import annotations

import asyncio
import importlib
import os
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import FIXTURES

RAW = (FIXTURES / "soajsinjectobj_raw.txt").read_bytes().strip()
USER = (
    b'{"tenant": {"id": "t1", "code": "TNT", "name": "Caf\xc3\xa9"}, "urac": {"_id": "u1", '
    b'"username": "zo\xc3\xab", "firstName": "' + quote("Zoë").encode() + b'", "lastName": "X"}}'
)


def fastapi_get(path: str, header: bytes | None) -> tuple[int, Any]:
    module = importlib.import_module("examples.fastapi_app")
    headers = [] if header is None else [(b"soajsinjectobj", header)]

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=module.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://example") as client:
            return await client.get(path, headers=headers)

    response = asyncio.run(call())
    return response.status_code, response.json()


def flask_get(path: str, header: bytes | None) -> tuple[int, Any]:
    module = importlib.import_module("examples.flask_app")
    client = module.app.test_client()
    environ = {} if header is None else {"HTTP_SOAJSINJECTOBJ": header.decode("latin-1")}
    response = client.get(path, environ_base=environ)
    return response.status_code, response.get_json()


def django_get(path: str, header: bytes | None) -> tuple[int, Any]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_app.settings")
    import django

    django.setup()
    from django.test import Client

    extra = {} if header is None else {"HTTP_SOAJSINJECTOBJ": header.decode("latin-1")}
    response = Client().get("/" + path.lstrip("/"), **extra)
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
