"""What a service says at start about its health paths, on real servers.

Before (red team, issue 11): a registry without a Config got no maintenance
listener and nothing said so; a degraded start said "/heartbeat answers 503
until it loads, /heartbeat answers 200" when the readiness path was
``/heartbeat`` itself (which never answers 503), and under Flask/Django no
line said what the probes answer. Now: one INFO says why there is no
listener and how to get one, and a degraded start logs one WARNING, under
ASGI and WSGI alike, saying truly what each path answers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from flask import Flask
from starlette.applications import Starlette

from soajs import Config, RegistryManager
from soajs.contrib.flask import SOAJS
from soajs.controlplane import ControlPlaneServer
from soajs.middleware import SOAJSMiddleware
from tests.integration.servers import uvicorn_server, werkzeug_server
from tests.support import free_port

Make = Callable[..., RegistryManager]


def test_no_config_means_no_listener_and_one_line_says_why(
    control_plane: ControlPlaneServer, make_manager: Make, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="soajs")
    manager = make_manager("hello", registry_api=control_plane.address, autostart=False)
    app = SOAJSMiddleware(Starlette(), registry=manager, trusted_gateways="*")
    with uvicorn_server(app) as served:
        assert httpx.get(served.url + "/heartbeat").status_code == 200
    assert app.core.listener is None
    lines = [r.getMessage() for r in caplog.records if "maintenance listener" in r.getMessage()]
    assert len(lines) == 1, lines
    assert "no Config" in lines[0] and "config=Config(" in lines[0]  # why, and how


@pytest.mark.parametrize(
    ("readiness", "says"),
    [
        ("/ready", "/ready (readiness) answers 503 until it loads, /heartbeat (liveness)"),
        ("/heartbeat", "/heartbeat answers 200 meanwhile (it is both the liveness and"),
    ],
)  # fmt: skip
def test_a_degraded_flask_start_logs_one_true_warning(
    readiness: str, says: str, make_manager: Make, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="soajs")
    config = Config(name="hello", group="g", port=free_port(), maintenance={"readiness": readiness})
    manager = make_manager(
        "hello", registry_api=f"127.0.0.1:{free_port()}", config=config, start_degraded=True
    )
    flask = Flask(__name__)
    SOAJS(flask, registry=manager, trusted_gateways="*", maintenance_listener=False)
    with werkzeug_server(flask) as served:
        status: dict[str, Any] = {
            path: httpx.get(served.url + path).status_code for path in ("/heartbeat", readiness)
        }
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "serving WITHOUT a registry" in warnings[0] and says in warnings[0]
    assert status["/heartbeat"] == 200
    assert status[readiness] == (503 if readiness != "/heartbeat" else 200)
