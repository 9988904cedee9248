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
7. shut everything down.
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
        return 0
    finally:
        step("7. shutdown")
        if manager is not None:
            manager.stop()
            say("registry manager stopped (poller joined)")
        plane.kill()
        shutil.rmtree(workdir, ignore_errors=True)
        say("done")


if __name__ == "__main__":
    raise SystemExit(main())
