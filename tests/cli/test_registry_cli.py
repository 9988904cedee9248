"""``soajs registry``, ``config validate``, ``doctor``, ``control-plane``, ``--version``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from soajs.testing import make_registry_data
from tests.cli.conftest import SCRIPT, soajs
from tests.support import free_port, wait_until

SECRETS = ["test-password", "test-key-password"]


@pytest.fixture
def registry_file(tmp_path: Path) -> Path:
    path = tmp_path / "registry.json"
    path.write_text(json.dumps(make_registry_data(custom={"greeting": "hi"})))
    return path


def test_version_and_help_everywhere() -> None:
    for args in (
        [],
        ["header"],
        ["header", "decode"],
        ["header", "encode"],
        ["registry", "show"],
        ["registry", "diff"],
        ["config", "validate"],
        ["doctor"],
        ["call"],
        ["control-plane"],
    ):
        version = soajs(*args, "--version")
        assert (version.code, version.out.strip()) == (0, "soajs 0.1.0"), args
        assert soajs(*args, "--help").code == 0, args
    module = subprocess.run(
        [sys.executable, "-m", "soajs", "--version"], capture_output=True, text=True, check=False
    )
    assert module.stdout.strip() == "soajs 0.1.0"


def test_usage_errors_exit_2() -> None:
    assert soajs().code == 2
    assert soajs("nope").code == 2
    assert soajs("registry", "get", "planet", "x").code == 2
    assert soajs("--log-level", "LOUD", "doctor").code == 2


def test_registry_show_from_a_file_is_masked(registry_file: Path) -> None:
    text = soajs("registry", "show", "--file", str(registry_file))
    assert text.code == 0, text.err
    assert "databases:   main" in text.out and "custom:      greeting" in text.out
    full = soajs("registry", "show", "--json", "--file", str(registry_file))
    data = full.json()
    assert data["coreDB"]["main"]["credentials"]["password"] == "**********"
    for secret in SECRETS:
        assert secret not in full.out


def test_registry_get_each_kind(registry_file: Path) -> None:
    db = soajs("registry", "get", "database", "main", "--file", str(registry_file)).json()
    assert db["servers"] == [{"host": "127.0.0.1", "port": 27017}]
    assert db["credentials"]["password"] == "**********"
    assert (
        soajs("registry", "get", "service", "controller", "--file", str(registry_file)).json()[
            "port"
        ]
        == 4000
    )
    assert (
        soajs("registry", "get", "custom", "greeting", "--file", str(registry_file)).json()["value"]
        == "hi"
    )
    missing = soajs("registry", "get", "database", "nope", "--file", str(registry_file))
    assert missing.code == 1 and "'nope'" in missing.err and "main" in missing.err
    resource = soajs("registry", "get", "resource", "nope", "--file", str(registry_file))
    assert resource.code == 1 and "no resource 'nope'" in resource.err


def test_registry_bad_sources(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    assert soajs("registry", "show", "--file", str(bad)).code == 2
    wrong = tmp_path / "wrong.json"
    data = make_registry_data()
    data["serviceConfig"]["ports"]["controller"] = "x"
    wrong.write_text(json.dumps(data))
    run = soajs("registry", "show", "--file", str(wrong))
    assert run.code == 1 and "serviceConfig.ports.controller" in run.err
    missing = soajs("registry", "show", "--file", str(tmp_path / "missing.json"))
    assert missing.code == 2 and "cannot read" in missing.err
    nothing = soajs("registry", "show", "--service", "hello")
    assert nothing.code == 2 and "SOAJS_REGISTRY_API" in nothing.err
    port = free_port()
    down = soajs("registry", "show", "--registry-api", f"127.0.0.1:{port}", "--env", "dev",
                 "--service", "hello")  # fmt: skip
    assert down.code == 1 and "cannot reach" in down.err


def test_registry_from_a_live_control_plane_and_diff(
    soajs_control_plane: Any, registry_file: Path, tmp_path: Path
) -> None:
    live = soajs("registry", "show", "--json", "--service", "hello")  # SOAJS_* from the fixture
    assert live.code == 0, live.err
    assert live.json()["services"]["hello"] == {"group": "Tests", "port": 4381}
    same = soajs("registry", "diff", str(registry_file), str(registry_file))
    assert (same.code, same.out.strip()) == (0, "no difference")
    changed = tmp_path / "changed.json"
    data = make_registry_data(custom={"greeting": "hello"})
    data["coreDB"]["main"]["servers"][0]["port"] = 27018
    changed.write_text(json.dumps(data))
    diff = soajs("registry", "diff", "--json", str(registry_file), str(changed))
    assert diff.code == 1
    paths = {c["path"]: c for c in diff.json()["changes"]}
    assert paths["custom.greeting.value"]["right"] == "hello"
    assert paths["coreDB.main.servers"]["change"] == "changed"
    secret = tmp_path / "secret.json"
    data = make_registry_data(custom={"greeting": "hi"})
    data["coreDB"]["main"]["credentials"]["password"] = "rotated-password"
    secret.write_text(json.dumps(data))
    rotated = soajs("registry", "diff", str(registry_file), str(secret))
    assert rotated.code == 1
    assert rotated.out.strip() == "~ coreDB.main.credentials.password: (secret changed)"
    assert "rotated-password" not in rotated.out and "test-password" not in rotated.out
    against_live = soajs("registry", "diff", soajs_control_plane.address, str(changed),
                         "--service", "hello")  # fmt: skip
    assert against_live.code == 1 and "custom.greeting" in against_live.out


def test_config_validate(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"name": "hello", "group": "g", "port": 4381}))
    run = soajs("config", "validate", str(good))
    assert run.code == 0 and "maintenance port 5381" in run.out
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "x", "port": 0, "version": "one",
                               "maintenance": {"port": {"type": "bogus"}}}))  # fmt: skip
    problems = soajs("config", "validate", "--json", str(bad))
    assert problems.code == 1
    paths = {p["path"] for p in problems.json()["problems"]}
    assert {"group", "port", "version", "maintenance.port.type"} <= paths
    assert soajs("config", "validate", str(tmp_path / "none.json")).code == 2
    assert soajs("config", "validate", "-", stdin="{nope").code == 2


def test_doctor_without_environment_says_what_to_fix() -> None:
    run = soajs("doctor", "--json")
    assert run.code == 1
    checks = {c["check"]: c for c in run.json()["checks"]}
    assert checks["SOAJS_REGISTRY_API"]["level"] == "error"
    assert "export SOAJS_REGISTRY_API" in checks["SOAJS_REGISTRY_API"]["fix"]
    bad = soajs("doctor", "--json", env={"SOAJS_REGISTRY_API": "nocolon", "SOAJS_ENV": "dev",
                                         "SOAJS_SRVIP": "not-an-ip"})  # fmt: skip
    checks = {c["check"]: c for c in bad.json()["checks"]}
    assert "nocolon" in checks["SOAJS_REGISTRY_API"]["message"]
    assert checks["SOAJS_SRVIP"]["level"] == "error"


def test_doctor_with_a_control_plane(soajs_control_plane: Any, tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"name": "hello", "group": "g", "port": 4381,
                                  "maintenance": {"port": {"type": "maintenance"}}}))  # fmt: skip
    run = soajs("doctor", "--json", "--config", str(config),
                env={"SOAJS_TRUSTED_GATEWAYS": "127.0.0.1"})  # fmt: skip
    assert run.code == 0, run.out
    service = run.json()["service"]
    assert service["maintenance_port"] == 5381 and service["gateway"] == "127.0.0.1:4000"
    assert service["trusted_gateways"] == ["127.0.0.1/32"]
    soajs_control_plane.stop()
    down = soajs("doctor", "--service", "hello")
    assert down.code == 1 and "does not answer /heartbeat" in down.out


def test_control_plane_serves_and_refuses_a_bad_file(registry_file: Path, tmp_path: Path) -> None:
    missing = soajs("control-plane", "--registry", str(tmp_path / "none.json"))
    assert missing.code == 2 and "registry file not found" in missing.err
    port = free_port()
    proc = subprocess.Popen(
        [str(SCRIPT), "control-plane", "--registry", str(registry_file), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        api = ["--registry-api", f"127.0.0.1:{port}", "--env", "dev", "--service", "hello"]
        assert wait_until(lambda: soajs("registry", "show", *api).code == 0, timeout=20, step=0.3)
    finally:
        proc.terminate()
        proc.wait(10)


def test_doctor_and_registry_are_bounded_by_their_timeout_against_a_silent_control_plane() -> None:
    import socket
    import time

    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        api = f"127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        run = soajs("doctor", "--timeout", "1", "--service", "hello",
                    env={"SOAJS_REGISTRY_API": api, "SOAJS_ENV": "dev"})  # fmt: skip
        assert run.code == 1 and "does not answer /heartbeat" in run.out
        shown = soajs("registry", "show", "--registry-api", api, "--env", "dev",
                      "--service", "hello", "--timeout", "1")  # fmt: skip
        assert shown.code == 1 and "within 1s" in shown.err
        # two runs, each one deadline plus the interpreter's start: generous bound
        assert time.monotonic() - started < 20


RECORDED = Path(__file__).parents[1] / "fixtures" / "gateway-4.3.4" / "getRegistry_dev_hello.json"


def test_a_recorded_exchange_is_unwrapped_by_the_control_plane_the_cli_and_from_file(
    tmp_path: Path,
) -> None:
    from soajs import RegistryManager

    shown = soajs("registry", "show", "--file", str(RECORDED))
    assert shown.code == 0 and "environment: dev" in shown.out, shown
    with RegistryManager.from_file(RECORDED, "hello") as manager:
        assert manager.env_code == "dev" and manager.registry.core_dbs
    port = free_port()
    proc = subprocess.Popen(
        [str(SCRIPT), "control-plane", "--registry", str(RECORDED), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        api = ["--registry-api", f"127.0.0.1:{port}", "--env", "dev", "--service", "hello"]
        assert wait_until(lambda: soajs("registry", "show", *api).code == 0, timeout=20, step=0.3)
        live = soajs("registry", "show", *api)
        assert "environment: dev" in live.out and "databases:   (none)" not in live.out
        assert "request" not in soajs("registry", "show", *api, "--json").json()
    finally:
        proc.terminate()
        proc.wait(10)


def test_what_is_not_a_registry_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"hello": "world", "list": [1, 2]}))
    shown = soajs("registry", "show", "--file", str(other))
    assert shown.code == 2 and "does not hold a registry" in shown.err
    refused = soajs("control-plane", "--registry", str(other))
    assert refused.code == 2 and "does not hold a registry" in refused.err
    failed = tmp_path / "failed.json"
    failed.write_text(json.dumps({"result": False, "errors": {"codes": [1]}}))
    assert "failed or empty envelope" in soajs("registry", "show", "--file", str(failed)).err


def test_a_control_plane_answer_that_is_not_a_registry_is_refused() -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Foreign(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # a well-formed envelope around something else
            body = json.dumps({"result": True, "data": {"request": {}, "status": 200}}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Foreign)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        api = f"127.0.0.1:{server.server_address[1]}"
        run = soajs("registry", "show", "--registry-api", api, "--env", "dev", "--service", "h")
        assert run.code == 1 and "not a registry" in run.err, run
        assert "environment: None" not in run.out
    finally:
        server.shutdown()
        server.server_close()
