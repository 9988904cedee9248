"""The Flask extension on a real threaded werkzeug server: ``g.soajs``, ``init_app``."""

from __future__ import annotations

from typing import Any

import httpx
from flask import Flask, g, request

from soajs import current_context
from soajs.contrib.flask import SOAJS
from soajs.middleware import get_soajs_context
from tests.conftest import FIXTURES
from tests.integration.servers import werkzeug_server

RAW = (FIXTURES / "soajsinjectobj_raw.txt").read_bytes().strip()


def code(ctx: Any) -> str | None:
    return None if ctx is None else str(ctx.tenant.code)


def add_routes(app: Flask) -> None:
    @app.get("/whoami")
    def who() -> Any:
        return {
            "g": code(g.soajs),
            "same": g.soajs is get_soajs_context(request) is current_context(),
            "early_hook": getattr(g, "early", "hook did not run"),
        }


def whoami(app: Flask, header: bytes | None = RAW) -> dict[str, Any]:
    headers = [] if header is None else [(b"soajsinjectobj", header)]
    with werkzeug_server(app) as served:
        response = httpx.get(served.url + "/whoami", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_g_soajs_is_the_request_context() -> None:
    app = Flask(__name__)
    SOAJS(app, trusted_gateways="*")
    add_routes(app)
    assert whoami(app) == {"g": "TST1", "same": True, "early_hook": "hook did not run"}
    assert whoami(app, None)["g"] is None


def test_g_soajs_is_set_for_before_request_hooks_registered_earlier() -> None:
    """Extensions and apps register ``before_request`` hooks before ours (an audit log,
    a login check...): they must find ``g.soajs`` too."""
    app = Flask(__name__)

    @app.before_request
    def early() -> None:
        found = getattr(g, "soajs", "g.soajs missing")
        g.early = found if isinstance(found, str) else code(found)

    SOAJS(app, trusted_gateways="*")
    add_routes(app)
    assert whoami(app)["early_hook"] == "TST1"


def test_init_app_options_override_the_constructor() -> None:
    extension = SOAJS(trusted_gateways="10.9.9.9")  # would ignore loopback
    app = Flask(__name__)
    extension.init_app(app, trusted_gateways="127.0.0.1")
    add_routes(app)
    assert whoami(app)["g"] == "TST1"
    assert app.extensions["soajs"] is extension
    other = Flask(__name__)
    extension.init_app(other)  # the constructor's options again
    add_routes(other)
    assert whoami(other)["g"] is None
