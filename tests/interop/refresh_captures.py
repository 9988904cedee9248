"""Refresh ``tests/interop/captures/`` from the live gateway.

Run: ``python -m tests.interop.refresh_captures`` (or ``make interop-captures``).

Starts the rig's gateway (see rig.py) and a bare recording service (stdlib, no
soajs middleware, so nothing is filtered), registers the recorder with the body
our ``Config`` builds, and writes what the gateway said and sent:

========================================  =============================================
file                                      what
========================================  =============================================
``getRegistry_dev_recorder.json``         ``GET /getRegistry`` for the recorder
``getRegistry_dev_unknown.json``          the same for a service nobody registered
``register_recorder_response.json``       ``POST /register``: our body and the answer
``awarenessStat.json``                    ``GET /awarenessStat``: hosts and health
``maintenance_heartbeat.json``            the maintenance port's ``/heartbeat``
``soajsinjectobj_raw.txt``                the header exactly as the recorder got it
``soajsinjectobj_decoded.json``           the same, parsed
``proxied_request_headers.json``          every header of that proxied request
``health_checks_seen.json``               the health checks made on the recorder
``gateway_responses.json``                status and body of keyed, keyless, bad-key,
                                          unknown-service and public-service calls
========================================  =============================================

With a new gateway release: change the pin in ``gateway/package.json``,
``npm install --package-lock-only`` there, run this, and read the diff.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from soajs import Config
from tests.interop.rig import CAPTURES, Gateway, ext_key, free_port_pair, install_gateway

FORGED = '{"tenant":{"id":"FORGED","code":"FORGED"}}'


class Recorder:
    """A bare HTTP service on ``port`` and ``port + inc`` that records every request."""

    def __init__(self, port: int, inc: int) -> None:
        self.port = port
        self.requests: list[dict[str, Any]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                recorder.requests.append(
                    {
                        "port": self.server.server_address[1],  # type: ignore[index]
                        "path": self.path,
                        "headers": [[k, v] for k, v in self.headers.items()],
                        "raw_inject": self.headers.get("soajsinjectobj"),
                    }
                )
                body = json.dumps({"result": True, "path": self.path}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.servers = [ThreadingHTTPServer(("127.0.0.1", p), Handler) for p in (port, port + inc)]
        self.threads = [
            threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
            for s in self.servers
        ]

    def __enter__(self) -> Recorder:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


def exchange(method: str, url: str, **kwargs: Any) -> dict[str, Any]:
    """One call, recorded as request / status / headers / body."""
    answer = httpx.request(method, url, timeout=10, **kwargs)
    try:
        body: Any = answer.json()
    except ValueError:
        body = answer.text
    return {
        "request": {
            "method": method,
            "url": str(answer.request.url),
            "headers": dict(kwargs.get("headers") or {}),
            "body": kwargs.get("json"),
        },
        "status": answer.status_code,
        "headers": [[k, v] for k, v in answer.headers.items()],
        "body": body,
    }


def refresh(out: Path, settle: float = 3.5) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def write(name: str, data: Any) -> None:
        path = out / name
        if isinstance(data, str):
            path.write_text(data)
        else:
            path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        written.append(path)

    work = Path(tempfile.mkdtemp(prefix="soajs-captures-"))
    gateway = Gateway(install_gateway(), work, health_check_ms=1000)
    port = free_port_pair(gateway.maintenance_inc)
    config = Config(
        name="recorder",
        group="Interop",
        port=port,
        version="1",
        description="captures recorder",
        extKeyRequired=True,
        tenant_Profile=True,
        provision_ACL=True,
        requestTimeout=30,
        requestTimeoutRenewal=5,
        interConnect=[{"name": "recorder", "version": "1"}],
        maintenance={"port": {"type": "maintenance"}, "readiness": "/heartbeat"},
    )
    key = {"key": ext_key()}
    with gateway, Recorder(port, gateway.maintenance_inc) as recorder:
        mp, gw = gateway.maintenance_url, gateway.url
        write("maintenance_heartbeat.json", exchange("GET", f"{mp}/heartbeat"))
        write(
            "getRegistry_dev_unknown.json",
            exchange("GET", f"{mp}/getRegistry", params={"env": "dev", "serviceName": "nosuch"}),
        )
        body = config.registration_body(ip="127.0.0.1")
        write("register_recorder_response.json", exchange("POST", f"{mp}/register", json=body))
        time.sleep(settle)  # a few health-check rounds
        write(
            "getRegistry_dev_recorder.json",
            exchange("GET", f"{mp}/getRegistry", params={"env": "dev", "serviceName": "recorder"}),
        )
        write("awarenessStat.json", exchange("GET", f"{mp}/awarenessStat"))

        checks = Counter(
            f"GET 127.0.0.1:{r['port']}{r['path']}" for r in recorder.requests
        )  # before any proxied call: these are all health checks
        examples = {
            f"GET 127.0.0.1:{r['port']}{r['path']}": r["headers"] for r in recorder.requests
        }
        # 4.3.4 starts one more perpetual health-check loop on every /getRegistry call
        # (awareness getMw -> init, not guarded outside HA mode): measure the rate
        # after a burst of polls.
        polls = 10
        for _ in range(polls):
            httpx.get(f"{mp}/getRegistry", params={"env": "dev", "serviceName": "recorder"})
        recorder.requests.clear()
        time.sleep(settle)
        after = len([r for r in recorder.requests if r["path"] == "/heartbeat"])
        write(
            "health_checks_seen.json",
            {
                "interval_ms": gateway.health_check_ms,
                "seconds_watched": settle,
                "seen": {
                    k: {"count": n, "example_headers": examples[k]} for k, n in checks.items()
                },
                "after_more_getRegistry_calls": {
                    "getRegistry_calls_made": polls,
                    "heartbeat_checks_in_the_same_time": after,
                },
            },
        )

        recorder.requests.clear()
        responses: dict[str, Any] = {
            "keyed_private": exchange(
                "GET", f"{gw}/recorder/v1/whoami?x=1", headers={**key, "X-Trace": "abc"}
            ),
        }
        proxied = next(r for r in recorder.requests if r["path"].startswith("/whoami"))
        raw = proxied["raw_inject"] or ""
        write("soajsinjectobj_raw.txt", raw)
        write("soajsinjectobj_decoded.json", json.loads(raw) if raw else None)
        write("proxied_request_headers.json", proxied["headers"])

        responses.update(
            unknown_service=exchange("GET", f"{gw}/nosuch/v1/x"),
            nokey_private=exchange("GET", f"{gw}/recorder/v1/whoami"),
            badkey_private=exchange("GET", f"{gw}/recorder/v1/whoami", headers={"key": "junk"}),
            forged_with_key_private=exchange(
                "GET", f"{gw}/recorder/v1/whoami", headers={**key, "soajsinjectobj": FORGED}
            ),
        )
        # the recorder again, registered as a public service
        public = Config(name="recorder", group="Interop", port=port, extKeyRequired=False)
        httpx.post(f"{mp}/register", json=public.registration_body(ip="127.0.0.1"), timeout=10)
        time.sleep(gateway.health_check_ms / 1000 * 1.5)
        recorder.requests.clear()
        responses.update(
            nokey_public=exchange("GET", f"{gw}/recorder/v1/x"),
            emptykey_public_forged=exchange(
                "GET", f"{gw}/recorder/v1/x?key=", headers={"soajsinjectobj": FORGED}
            ),
            key_public_forged=exchange(
                "GET", f"{gw}/recorder/v1/x", headers={**key, "soajsinjectobj": FORGED}
            ),
        )
        responses["headers_seen_by_public_service"] = [
            {"path": r["path"], "soajsinjectobj": r["raw_inject"]} for r in recorder.requests
        ]
        write("gateway_responses.json", responses)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=CAPTURES, help="default: %(default)s")
    args = parser.parse_args()
    for path in refresh(args.out):
        print(path)


if __name__ == "__main__":
    main()
