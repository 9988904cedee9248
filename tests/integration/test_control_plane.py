"""The local control plane over real HTTP on loopback: envelope, filtering, register."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from soajs.controlplane import ControlPlaneServer
from tests.conftest import FIXTURES, load_fixture
from tests.support import write_json


def get(server: ControlPlaneServer, path: str, **params: str) -> httpx.Response:
    return httpx.get(server.url + path, params=params, timeout=5)


def assert_envelope(body: dict[str, Any], route: str, *, ok: bool = True) -> None:
    assert body["result"] is ok
    assert isinstance(body["ts"], int)
    assert body["service"]["route"] == route
    assert body["service"]["type"] == "rest"


def test_get_registry_envelope_and_filtering(control_plane: ControlPlaneServer) -> None:
    response = get(control_plane, "/getRegistry", env="dev", serviceName="hello", type="service")
    assert response.status_code == 200
    body = response.json()
    assert_envelope(body, "/getRegistry")
    data = body["data"]
    # only the controller and the requesting service, the latter as {group, port}
    assert set(data["services"]) == {"controller", "hello"}
    assert data["services"]["hello"] == {"group": "Demo", "port": 4381}
    assert data["services"]["controller"]["hosts"]["latest"] == "1"
    assert data["awareness"] == {"host": "127.0.0.1", "port": 4000}
    assert set(data["coreDB"]) == {"provision", "main", "session"}
    assert isinstance(data["timeLoaded"], int)


def test_filtering_follows_the_gateway(control_plane: ControlPlaneServer) -> None:
    # type=service without a name: the controller only
    data = get(control_plane, "/getRegistry", env="dev").json()["data"]
    assert set(data["services"]) == {"controller"}
    # another type: every service (gateway 4.3.4's else branch)
    data = get(control_plane, "/getRegistry", env="dev", type="daemon").json()["data"]
    assert set(data["services"]) == {"controller", "hello", "orders"}
    # the Node framework asks with `name`; env defaults to the served one
    data = get(control_plane, "/getRegistry", name="orders").json()["data"]
    assert set(data["services"]) == {"controller", "orders"}
    # cors is never sent; oauth only to the oauth service
    assert "cors" not in data["serviceConfig"]
    assert "oauth" not in data["serviceConfig"]
    data = get(control_plane, "/getRegistry", serviceName="oauth").json()["data"]
    assert data["serviceConfig"]["oauth"]["grants"] == ["password", "refresh_token"]


def test_env_is_case_insensitive_and_a_wrong_env_is_an_error(
    control_plane: ControlPlaneServer,
) -> None:
    assert get(control_plane, "/getRegistry", env="DEV", serviceName="hello").status_code == 200
    response = get(control_plane, "/getRegistry", env="prod", serviceName="hello")
    assert response.status_code == 200  # the gateway answers failures with 200
    body = response.json()
    assert_envelope(body, "/getRegistry", ok=False)
    assert "prod" in body["errors"]["details"][0]["message"]
    assert body["errors"]["codes"] == [body["errors"]["details"][0]["code"]]


def test_register_then_the_service_is_listed(control_plane: ControlPlaneServer) -> None:
    captured = load_fixture("register_hello_response.json")
    request_body = dict(captured["request"]["body"], name="fresh", port=4390)
    response = httpx.post(control_plane.url + "/register", json=request_body, timeout=5)
    assert response.status_code == 200
    body = response.json()
    assert_envelope(body, "/register")
    data = body["data"]
    # the same shape the real gateway answers with
    assert set(captured["body"]["data"]) <= set(data)
    assert data["hosts"] == {"1": ["127.0.0.1"], "latest": "1"}
    assert data["versions"]["1"]["interConnect"] == [{"name": "hello", "version": "1"}]
    listed = get(control_plane, "/getRegistry", env="dev", serviceName="fresh").json()["data"]
    assert listed["services"]["fresh"] == {"group": "Holdout", "port": 4390}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            {"group": "g", "port": 1, "ip": "1.2.3.4", "version": "1"}, "name", id="no-name"
        ),
        pytest.param(
            {"name": "x", "group": "g", "ip": "1.2.3.4", "version": "1"}, "port", id="no-port"
        ),
        pytest.param(
            {"name": "x", "group": "g", "port": "abc", "ip": "1.2.3.4", "version": "1"},
            "port must be an integer",
            id="bad-port",
        ),
        pytest.param([1, 2], "JSON object", id="not-an-object"),
    ],
)
def test_register_rejects_bad_bodies(
    control_plane: ControlPlaneServer, body: Any, expected: str
) -> None:
    response = httpx.post(control_plane.url + "/register", json=body, timeout=5)
    assert response.status_code == 200
    assert_envelope(response.json(), "/register", ok=False)
    assert expected in response.json()["errors"]["details"][0]["message"]


def test_register_with_a_body_that_is_not_json(control_plane: ControlPlaneServer) -> None:
    response = httpx.post(control_plane.url + "/register", content=b"{nope", timeout=5)
    assert response.json()["result"] is False
    assert response.json()["errors"]["details"][0]["message"] == "the body is not JSON"


def test_heartbeat_matches_the_gateways(control_plane: ControlPlaneServer) -> None:
    captured = load_fixture("maintenance_heartbeat.json")["body"]
    body = get(control_plane, "/heartbeat").json()
    assert_envelope(body, "/heartbeat")
    assert set(body) == set(captured)


def test_a_changed_file_is_served_on_the_next_call(
    control_plane: ControlPlaneServer, registry_file: Path, registry_data: dict[str, Any]
) -> None:
    registry_data["custom"]["greeting"]["value"]["text"] = "changed"
    write_json(registry_file, registry_data)
    data = get(control_plane, "/getRegistry", env="dev", serviceName="hello").json()["data"]
    assert data["custom"]["greeting"]["value"]["text"] == "changed"


def test_reload_registry_rereads_the_file(
    control_plane: ControlPlaneServer, registry_file: Path, registry_data: dict[str, Any]
) -> None:
    registry_data["custom"]["greeting"]["value"]["text"] = "reloaded"
    write_json(registry_file, registry_data)
    body = get(control_plane, "/reloadRegistry").json()
    assert_envelope(body, "/reloadRegistry")
    assert body["data"]["custom"]["greeting"]["value"]["text"] == "reloaded"


def test_a_broken_file_keeps_the_previous_registry(
    control_plane: ControlPlaneServer, registry_file: Path
) -> None:
    registry_file.write_text("{ broken")
    data = get(control_plane, "/getRegistry", env="dev", serviceName="hello").json()["data"]
    assert data["custom"]["greeting"]["value"]["text"] == "hello from the registry"
    response = get(control_plane, "/reloadRegistry")
    assert response.json()["result"] is False
    assert "not JSON" in response.json()["errors"]["details"][0]["message"]


def test_serves_a_captured_gateway_envelope_file(tmp_path: Path) -> None:
    captured = json.loads((FIXTURES / "getRegistry_dev_hello.json").read_text())
    path = tmp_path / "captured.json"
    path.write_text(json.dumps(captured["body"]))
    with ControlPlaneServer(path) as server:
        data = get(server, "/getRegistry", env="dev", serviceName="hello").json()["data"]
    assert data["serviceConfig"]["key"]["password"] == "soajs-python holdout rig key"
    assert data["services"]["hello"] == {"group": "Holdout", "port": 4381}
