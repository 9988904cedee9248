"""Nothing the ``soajs`` command prints shows a secret, unless ``--reveal-secrets``."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from soajs.testing import make_registry_data
from tests.cli.conftest import soajs
from tests.support import free_port

SECRETS = ["UrlPw1", "ExtraPw1", "StreamPw1", "ConfTok1", "KeyPw1", "CookieSec1", "ApiKey1"]


def _leaky() -> dict[str, Any]:
    data = make_registry_data()
    db = next(iter(data["coreDB"].values()))
    db["URLParam"] = {"password": "UrlPw1", "authSource": "admin"}
    db["extraParam"] = {"auth": {"password": "ExtraPw1"}}
    db["streaming"] = {"uri": "mongodb://user:StreamPw1@db.example:27017/x"}
    config = data["serviceConfig"]
    config["token"] = "ConfTok1"
    config["key"]["password"] = "KeyPw1"
    config.setdefault("cookie", {})["secret"] = "CookieSec1"
    data["custom"] = {"mail": {"name": "mail", "value": {"api_key": "ApiKey1", "from": "a@b.c"}}}
    return data


def _clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, (secret, text)


def test_show_get_and_diff_mask_every_secret_and_reveal_only_when_asked(tmp_path: Path) -> None:
    data = _leaky()
    left = tmp_path / "left.json"
    left.write_text(json.dumps(data))
    db = next(iter(data["coreDB"]))
    for args in (["registry", "show"], ["registry", "show", "--json"],
                 ["registry", "get", "database", db], ["registry", "get", "--json", "database", db],
                 ["registry", "get", "custom", "mail"]):  # fmt: skip
        run = soajs(*args, "--file", str(left))
        assert run.code == 0, run
        _clean(run.out + run.err)
    shown = soajs("registry", "show", "--json", "--file", str(left)).json()
    assert shown["serviceConfig"]["token"] == "**********"
    assert "mongodb://user:****@db.example" in json.dumps(shown)
    revealed = soajs("--reveal-secrets", "registry", "show", "--json", "--file", str(left))
    assert "UrlPw1" in revealed.out and "ConfTok1" in revealed.out

    changed = copy.deepcopy(data)
    cdb = next(iter(changed["coreDB"].values()))
    cdb["URLParam"]["password"] = "UrlPw2"
    cdb["extraParam"]["auth"]["password"] = "ExtraPw2"
    cdb["streaming"]["uri"] = "mongodb://user:StreamPw2@db.example:27017/x"
    changed["serviceConfig"]["token"] = "ConfTok2"
    right = tmp_path / "right.json"
    right.write_text(json.dumps(changed))
    diff = soajs("registry", "diff", str(left), str(right))
    assert diff.code == 1
    _clean(diff.out)
    assert "UrlPw2" not in diff.out and "ConfTok2" not in diff.out
    for path in ("URLParam.password", "extraParam.auth.password", "streaming.uri",
                 "serviceConfig.token"):  # fmt: skip
        assert any(path in line and "(secret changed)" in line for line in diff.out.splitlines())
    as_json = soajs("registry", "diff", "--json", str(left), str(right))
    _clean(as_json.out)


def test_error_lines_and_doctor_mask_uri_credentials() -> None:
    api = f"admin:CpPw1@127.0.0.1:{free_port()}"  # nothing listens there
    env = {"SOAJS_REGISTRY_API": api, "SOAJS_ENV": "dev"}
    doctor = soajs("doctor", "--timeout", "1", "--service", "hello", env=env)
    assert "CpPw1" not in doctor.out + doctor.err, doctor
    shown = soajs("registry", "show", "--service", "hello", "--timeout", "1", env=env)
    assert shown.code != 0 and "CpPw1" not in shown.out + shown.err


def test_a_control_planes_error_text_is_repeated_masked() -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    message = "cannot reach mongodb://admin:DbPw9@db.internal:27017/core"

    class Failing(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            details = [{"code": 600, "message": message}]
            answer = {"result": False, "errors": {"codes": [600], "details": details}}
            body = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        api = f"127.0.0.1:{server.server_address[1]}"
        env = {"SOAJS_REGISTRY_API": api, "SOAJS_ENV": "dev"}
        shown = soajs("registry", "show", "--service", "hello", "--timeout", "2", env=env)
        doctor = soajs("doctor", "--service", "hello", "--timeout", "2", env=env)
        for run in (shown, doctor):
            assert run.code == 1, run
            assert "DbPw9" not in run.out + run.err, run
        assert "admin:****@db.internal" in shown.err + doctor.out
        revealed = soajs("registry", "show", "--service", "hello", "--reveal-secrets", env=env)
        assert "DbPw9" in revealed.err
    finally:
        server.shutdown()
        server.server_close()
