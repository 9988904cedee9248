"""The soajs-python demo (``make demo``): a service kept fresh by a local control plane.

It runs on its own and ends on its own:

1. start the local control plane (``python -m soajs control-plane``) on a
   copy of ``examples/registry.json``;
2. start a service whose RegistryManager registers (manual deployment) and
   loads its registry; show the databases (secrets masked), services and
   where the gateway is;
3. change the registry file and watch the auto-reload pick it up;
4. kill the control plane: the service keeps its last good registry;
5. start the control plane again: the service re-registers and reloads;
6. run the FastAPI, Flask and Django examples behind the middleware and send
   each the gateway's header (from the trusted gateway address), a forged one
   from an untrusted peer, and a malformed one, printing what the handler saw;
7. service ``a`` calls service ``b`` through the ServiceConnector: mesh-direct
   first (b sees the same tenant), then b's instance in a's interConnect is
   stopped and the call fails over to the gateway route (a small gateway
   stand-in, examples/gateway_standin.py), which reaches b's other instance;
8. shut everything down.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from soajs import Config, RegistryManager

HERE = Path(__file__).resolve().parent


def say(text: str = "") -> None:
    print(text, flush=True)


def step(title: str) -> None:
    say(f"\n=== {title} ===")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


class ControlPlane:
    """The local control plane as a child process (so it can be killed for real)."""

    def __init__(self, registry_file: Path, port: int) -> None:
        self.registry_file = registry_file
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def up(self) -> bool:
        try:
            return httpx.get(f"http://{self.address}/heartbeat", timeout=0.5).status_code == 200
        except httpx.HTTPError:
            return False

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "soajs", "--log-level", "WARNING", "control-plane",
             "--registry", str(self.registry_file), "--port", str(self.port)],
        )  # fmt: skip
        if not wait_for(self.up, 15):
            raise SystemExit("the control plane did not start")
        say(f"control plane up on {self.address} (pid {self.proc.pid})")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
            say(f"control plane killed (pid {self.proc.pid})")
        self.proc = None


def show_registry(manager: RegistryManager) -> None:
    registry = manager.registry
    say(f"environment: {registry.environment}, loaded at {manager.last_loaded_at:%H:%M:%S}")
    say("databases (secrets are masked in repr and dumps):")
    for name, db in sorted(manager.get_all_databases().items()):
        servers = ", ".join(f"{s.host}:{s.port}" for s in db.servers or ())
        say(f"  {name:10} name={db.name!s:22} servers=[{servers}] credentials={db.credentials!r}")
    main = manager.get_database("main")
    say(f"  main as JSON: {main.model_dump_json(include={'name', 'credentials'})}")
    if main.credentials and main.credentials.password:
        secret = main.credentials.password.get_secret_value()
        say(f"  (on purpose: main's password has {len(secret)} characters)")
    say("services: " + ", ".join(f"{n}:{s.port}" for n, s in registry.services.items()))
    if manager.awareness:
        say(f"gateway (awareness): {manager.awareness.host}:{manager.awareness.port}")
    say(f"custom 'greeting': {manager.get_custom('greeting').value['text']!r}")
    say(f"poll period asked by the control plane: {registry.auto_reload_ms} ms")


def edit_registry(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = json.loads(path.read_text())
    change(data)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


GATEWAY_IP = "127.0.0.2"  # the demo's stand-in gateway sends from here
RAW_HEADER = HERE.parent / "tests" / "fixtures" / "gateway-4.3.4" / "soajsinjectobj_raw.txt"
EXAMPLES = {
    "fastapi": [sys.executable, "-m", "uvicorn", "examples.fastapi_app:app", "--port", "{port}",
                "--log-level", "warning"],
    "flask": [sys.executable, "-m", "flask", "--app", "examples.flask_app", "run",
              "--port", "{port}"],
    "django": [sys.executable, "-m", "django", "runserver", "127.0.0.1:{port}", "--noreload",
               "--settings", "examples.django_app.settings"],
}  # fmt: skip


def show_examples(registry_api: str) -> None:
    """Start each example, send it the gateway's header, a forged one and a broken one."""
    header = RAW_HEADER.read_bytes().strip()
    forged = b'{"tenant": {"id": "FORGED", "code": "EVIL"}}'
    env = dict(
        os.environ,
        SOAJS_REGISTRY_API=registry_api,
        SOAJS_ENV="dev",
        SOAJS_TRUSTED_GATEWAYS=GATEWAY_IP,
        PYTHONPATH=str(HERE.parent),
    )
    say(f"trusted gateway: {GATEWAY_IP}; other peers are untrusted")
    gateway = httpx.Client(transport=httpx.HTTPTransport(local_address=GATEWAY_IP), timeout=5)
    outsider = httpx.Client(timeout=5)
    for name, command in EXAMPLES.items():
        port = free_port()
        env["SOAJS_SERVICE_PORT"] = str(port)
        args = [part.format(port=port) for part in command]
        proc = subprocess.Popen(
            args, env=env, cwd=HERE.parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        url = f"http://127.0.0.1:{port}/whoami"
        try:
            if not wait_for(lambda u=url: _answers(u), 20):  # type: ignore[misc]
                say(f"{name}: did not start")
                continue
            say(f"{name} on port {port}:")
            for label, client, value in (
                ("gateway header from the gateway", gateway, header),
                ("forged header from an untrusted peer", outsider, forged),
                ("malformed header from the gateway", gateway, b'{"tenant": {"id"'),
            ):
                seen = client.get(url, headers=[(b"soajsinjectobj", value)]).json()
                say(f"  {label:38} -> tenant {seen['tenant']}")
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
    gateway.close()
    outsider.close()


MESH_ENV = {
    "SOAJS_ENV": "dev",
    "SOAJS_DEPLOY_MANUAL": "true",
    # a mesh callee is called by its peers, not only by the gateway: trust the service network
    "SOAJS_TRUSTED_GATEWAYS": "127.0.0.1,127.0.0.2,127.0.0.3",
    "PYTHONPATH": str(HERE.parent),
}


def start_mesh_service(
    registry_api: str, name: str, instance: str, ip: str, port: int
) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        **MESH_ENV,
        SOAJS_REGISTRY_API=registry_api,
        SOAJS_SERVICE_NAME=name,
        SOAJS_SERVICE_PORT=str(port),
        SOAJS_SRVIP=ip,
        DEMO_INSTANCE=instance,
    )
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "examples.mesh_app:app", "--host", ip,
         "--port", str(port), "--log-level", "warning"],
        env=env, cwd=HERE.parent, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def stop(proc: subprocess.Popen[bytes]) -> str:
    """Stop a child with SIGINT; returns its stderr (its log lines)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate(timeout=10)
    return err.decode(errors="replace")


def show_connector(registry_api: str) -> None:
    """a -> b mesh-direct, then b's mesh instance stops and a's call fails over to the gateway."""
    if str(HERE.parent) not in sys.path:  # run as a script: make `examples` importable
        sys.path.insert(0, str(HERE.parent))
    from examples.gateway_standin import GatewayStandIn

    gateway = GatewayStandIn(registry_api, source_ip=GATEWAY_IP).start()
    port_a, port_b = free_port(), free_port()
    procs = {
        "a": start_mesh_service(registry_api, "a", "a", "127.0.0.1", port_a),
        "b-1": start_mesh_service(registry_api, "b", "b-1", "127.0.0.1", port_b),
        "b-2": start_mesh_service(registry_api, "b", "b-2", "127.0.0.3", port_b),
    }
    try:

        def registered() -> bool:
            try:
                services = gateway.services()
            except (httpx.HTTPError, KeyError, ValueError):
                return False
            hosts = services.get("b", {}).get("hosts", {}).get("1", [])
            return "a" in services and len(hosts) == 2

        if not wait_for(registered, 30):
            say("the mesh services did not register")
            return
        say(f"gateway stand-in on {gateway.address}; registered: a on 127.0.0.1:{port_a}, "
            f"b v1 on 127.0.0.1:{port_b} (b-1) and 127.0.0.3:{port_b} (b-2)")  # fmt: skip
        client = httpx.Client(timeout=10)
        url = f"http://{gateway.address}/a/v1/call-b"
        key = {"key": gateway.e_key}

        for label in ("both b instances up", "b-1 (a's mesh target) stopped"):
            if label.startswith("b-1"):
                stop(procs["b-1"])
                say("b-1 stopped")
            answer = client.get(url, headers=key).json()
            b = answer["b"]
            say(f"{label}:")
            say(f"  a planned: {answer['planned']['mode']} -> {answer['planned']['host']}")
            say(f"  answered via {answer['answered_via']} by {b['instance']}, "
                f"which saw tenant {b['tenant']['code']} ({b['tenant']['name']})")  # fmt: skip
        client.close()
        routed = [s for s in gateway.seen if s.path.startswith("/b/")]
        for seen in routed:
            say(f"  the gateway got {seen.path}: key {'ok' if seen.had_key else 'MISSING'}, "
                f"soajsinjectobj {'PRESENT' if seen.had_inject_header else 'absent'}, "
                f"routed to {seen.routed_to}")  # fmt: skip
    finally:
        logs = {name: stop(proc) for name, proc in procs.items()}
        gateway.stop()
    for line in logs["a"].splitlines():
        if "soajs.connector" in line or "fails over" in line or "circuit" in line:
            say(f"  a's log: {line.strip()}")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="  [log] %(levelname)s %(name)s: %(message)s")
    workdir = Path(tempfile.mkdtemp(prefix="soajs-demo-"))
    registry_file = workdir / "registry.json"
    shutil.copy(HERE / "registry.json", registry_file)
    plane = ControlPlane(registry_file, free_port())
    manager: RegistryManager | None = None
    try:
        step("1. local control plane")
        plane.start()

        step("2. a service loads its registry (and registers: manual deployment)")
        config = Config(
            name="hello", group="Demo", port=4381, version="1", extKeyRequired=True,
            description="demo service",
        )  # fmt: skip
        manager = RegistryManager(
            "hello",
            env_code="dev",
            registry_api=plane.address,
            deploy_manual=True,
            config=config,
            max_backoff=1.0,
        )
        show_registry(manager)

        step("3. the operator changes the registry; auto-reload picks it up")
        before = manager.registry

        def change(data: dict[str, Any]) -> None:
            data["custom"]["greeting"]["value"]["text"] = "changed while the service ran"
            data["coreDB"]["reports"] = dict(data["coreDB"]["main"], name="reports")

        edit_registry(registry_file, change)
        say("registry file edited: new greeting, new database 'reports'")
        if not wait_for(lambda: manager is not None and manager.registry is not before, 10):
            raise SystemExit("auto-reload did not pick up the change")
        say(f"reloaded at {manager.last_loaded_at:%H:%M:%S}:")
        say(f"  greeting now {manager.get_custom('greeting').value['text']!r}")
        say(f"  get_database('reports').name = {manager.get_database('reports').name!r}")

        step("4. the control plane goes away; the service keeps its last good registry")
        plane.kill()
        good = manager.registry
        wait_for(lambda: manager is not None and manager.last_error is not None, 10)
        time.sleep(2.5)  # a few failed polls: logged once, not once per try
        say(f"last error: {manager.last_error}")
        say(f"still serving the same registry: {manager.registry is good}")
        say(f"get_database('main').name = {manager.get_database('main').name!r}")

        step("5. the control plane is back; the service re-registers and reloads")
        plane.start()
        if not wait_for(lambda: manager is not None and manager.last_error is None, 15):
            raise SystemExit("the service did not recover")
        say(f"reloaded at {manager.last_loaded_at:%H:%M:%S}; listed again as "
            f"{manager.get_service('hello').port}")  # fmt: skip

        step("6. the FastAPI, Flask and Django examples behind the middleware")
        show_examples(plane.address)

        step("7. service a calls service b: mesh-direct, then failover to the gateway")
        show_connector(plane.address)
        return 0
    finally:
        step("8. shutdown")
        if manager is not None:
            manager.stop()
            say("registry manager stopped (poller joined)")
        plane.kill()
        shutil.rmtree(workdir, ignore_errors=True)
        say("done")


if __name__ == "__main__":
    raise SystemExit(main())
