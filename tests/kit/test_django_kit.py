"""The kit with Django, as a user's project runs it: a fresh pytest run per case."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROJECT = """
import django
from django.conf import settings

from soajs import RegistryManager
from soajs.testing import make_registry_data

REGISTRY = RegistryManager.from_dict(make_registry_data(), "hello")
settings.configure(
    DEBUG=False, SECRET_KEY="test-only", ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__,
    INSTALLED_APPS=[], MIDDLEWARE=["soajs.contrib.django.SOAJSMiddleware"],
    SOAJS={"registry": REGISTRY, "trusted_gateways": "127.0.0.1", "maintenance_listener": False},
)
django.setup()

from django.http import JsonResponse
from django.urls import path


def whoami(request):
    ctx = request.soajs
    return JsonResponse({"tenant": ctx and ctx.tenant.code})


urlpatterns = [path("whoami", whoami)]
"""

TESTS = """
import pytest
from django.core.asgi import get_asgi_application
from django.core.wsgi import get_wsgi_application

from soajs.testing import make_inject_header

HEADER = make_inject_header(tenant_code="ACME")


def body(response):  # Starlette: .json(); Werkzeug: .json
    return response.json() if callable(response.json) else response.json


@pytest.mark.parametrize("peer", ["127.0.0.1", ("127.0.0.1", 4000)])
@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_gateway_client(soajs_gateway_client, kind, peer):
    app = get_asgi_application() if kind == "asgi" else get_wsgi_application()
    client = soajs_gateway_client(app, HEADER, peer=peer)
    assert body(client.get("/whoami")) == {"tenant": "ACME"}


def test_reset_middleware_finds_the_middleware_in_django_handlers(soajs_gateway_client):
    from soajs.testing import reset_middleware

    for app in (get_wsgi_application(), get_asgi_application()):
        client = soajs_gateway_client(app, HEADER)
        assert body(client.get("/whoami")) == {"tenant": "ACME"}
        assert reset_middleware(app) == 1


def test_lifespan_can_be_skipped(soajs_gateway_client):
    for app in (get_asgi_application(), get_wsgi_application()):  # the same call for both
        client = soajs_gateway_client(app, HEADER, lifespan=False)
        assert body(client.get("/whoami")) == {"tenant": "ACME"}
"""


def run(tmp_path: Path, tests: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "project.py").write_text(PROJECT)
    (tmp_path / "conftest.py").write_text("import project  # noqa: F401\n")
    (tmp_path / "test_user.py").write_text(tests)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_user.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_gateway_client_with_django_asgi_and_wsgi_and_either_peer_form(tmp_path: Path) -> None:
    done = run(tmp_path, TESTS)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "6 passed" in done.stdout


def test_a_real_lifespan_failure_still_fails_the_test(tmp_path: Path) -> None:
    failing = """
from contextlib import asynccontextmanager
from starlette.applications import Starlette

@asynccontextmanager
async def boom(app):
    raise RuntimeError("startup boom")
    yield

def test_x(soajs_gateway_client):
    soajs_gateway_client(Starlette(lifespan=boom))
"""
    done = run(tmp_path, failing)
    assert done.returncode == 1 and "startup boom" in done.stdout, done.stdout[-3000:]
