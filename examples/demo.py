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
6. shut everything down.
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
        return 0
    finally:
        step("6. shutdown")
        if manager is not None:
            manager.stop()
            say("registry manager stopped (poller joined)")
        plane.kill()
        shutil.rmtree(workdir, ignore_errors=True)
        say("done")


if __name__ == "__main__":
    raise SystemExit(main())
