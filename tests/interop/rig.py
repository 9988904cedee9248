"""The interop rig: the real SOAJS gateway (``soajs.controller``) and our services, on loopback.

Gateway
    ``npm ci`` of ``tests/interop/gateway/package{,-lock}.json`` (``soajs.controller``
    pinned) into a cache directory outside the source tree, reused between runs
    (``$SOAJS_INTEROP_CACHE`` or ``${XDG_CACHE_HOME:-~/.cache}/soajs-python/gateway-4.3.4``).
    It runs in solo mode with ``node -r gateway/preload.js``: the preload replaces the
    gateway's MongoDB connector with an in-memory store seeded with the tenant and product
    documents of ``tests/fixtures/gateway-4.3.4/rig/provision.json``, and forces every
    listener onto 127.0.0.1. The environment record is that folder's ``profile.json``,
    with free ports and short intervals.

Services
    The examples (``examples/*``), each in its own process with its real server
    (uvicorn, werkzeug, Django's runserver), configured by ``SOAJS_*`` variables alone;
    with ``SOAJS_DEPLOY_MANUAL=1`` they register themselves with the gateway.

Every process is stopped by pid (``Proc.stop``: a polite signal, then SIGKILL), and an
``atexit`` hook kills whatever a crashed test run left.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import fcntl
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import httpx

GATEWAY_VERSION = "4.3.4"
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PACKAGE_DIR = HERE / "gateway"
PRELOAD = PACKAGE_DIR / "preload.js"
RIG_FIXTURES = ROOT / "tests" / "fixtures" / f"gateway-{GATEWAY_VERSION}" / "rig"
CAPTURES = HERE / "captures"

#: Every service name the tests register; the seed grants the test package access to each.
SERVICE_NAMES = (
    "hello",
    "hellofastapi",
    "helloflask",
    "hellodjango",
    "hellopublic",
    "meshcaller",
    "meshcallee",
    "outage",
    "selfreg",
    "echopublic",
    "recorder",
    "autoreg",
    "apilisted",
    "twoctl",
    "hamode",
)

_NETWORK_ERRORS = (
    "ENOTFOUND",
    "EAI_AGAIN",
    "ECONNREFUSED",
    "ECONNRESET",
    "ETIMEDOUT",
    "ENETUNREACH",
    "EHOSTUNREACH",
    "network",
    "proxy",
)


class RigUnavailable(Exception):
    """The rig cannot run here (no node, no npm, no registry); the message is one line."""


# ---------------------------------------------------------------- install
def cache_dir() -> Path:
    explicit = os.environ.get("SOAJS_INTEROP_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "soajs-python" / f"gateway-{GATEWAY_VERSION}"


def _lock_digest() -> str:
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        digest.update((PACKAGE_DIR / name).read_bytes())
    return digest.hexdigest()


def install_gateway(timeout: float = 600.0) -> Path:
    """Install the pinned gateway into the cache (once); return the ``soajs.controller`` dir.

    Raises :class:`RigUnavailable` when node or npm is missing or npm cannot reach
    the registry; any other npm failure is a ``RuntimeError`` with npm's output.
    """
    node = shutil.which("node")
    npm = shutil.which("npm")
    if node is None:
        raise RigUnavailable("node is not on PATH (the interop tests need node >= 18 and npm)")
    if npm is None:
        raise RigUnavailable("npm is not on PATH (the interop tests need node >= 18 and npm)")
    target = cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    controller = target / "node_modules" / "soajs.controller"
    stamp = target / ".installed"
    want = _lock_digest()
    with open(target / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test run may be installing right now
        if stamp.exists() and stamp.read_text() == want and (controller / "index.js").exists():
            return controller
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(PACKAGE_DIR / name, target / name)
        cmd = [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]
        try:
            done = subprocess.run(
                cmd, cwd=target, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            raise RigUnavailable(
                f"npm ci of soajs.controller@{GATEWAY_VERSION} took over {timeout:.0f}s "
                "(no network to the npm registry?)"
            ) from None
        if done.returncode != 0:
            output = (done.stdout + done.stderr).strip()
            if any(word in output for word in _NETWORK_ERRORS):
                lines = [line.strip() for line in output.splitlines() if line.strip()]
                errors = [line for line in lines if "npm error" in line or "ERR!" in line]
                detail = " ".join((errors or lines)[:3])[:200]
                raise RigUnavailable(
                    f"npm could not install soajs.controller@{GATEWAY_VERSION} "
                    f"(no network to the npm registry?): {detail}"
                )
            raise RuntimeError(f"npm ci failed in {target} (exit {done.returncode}):\n{output}")
        if not (controller / "index.js").exists():
            raise RuntimeError(f"npm ci succeeded but {controller}/index.js is missing")
        stamp.write_text(want)
    return controller


# ---------------------------------------------------------------- ports
_HANDED_OUT: set[int] = set()


def port_is_free(port: int, on: str | None = None) -> bool:
    """Nobody listens on ``port`` on any interface (we bind as node would: SO_REUSEADDR,
    so connections in TIME_WAIT after a restart do not count); ``on``: on that IP only."""
    for host in (on,) if on else ("0.0.0.0", "127.0.0.1"):
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError:
                return False
    return True


def free_port_pair(inc: int = 1000) -> int:
    """A port ``p`` with ``p`` and ``p + inc`` both free (a service and its maintenance port)."""
    rng = random.Random()
    for _ in range(500):
        port = rng.randrange(20000, 60000 - inc)
        if port in _HANDED_OUT or port + inc in _HANDED_OUT:
            continue
        if port_is_free(port) and port_is_free(port + inc):
            _HANDED_OUT.update((port, port + inc))
            return port
    raise RuntimeError("no free pair of ports found")


# ---------------------------------------------------------------- processes
_LIVE: dict[int, subprocess.Popen[bytes]] = {}


def _kill_leftovers() -> None:
    for proc in list(_LIVE.values()):
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)


atexit.register(_kill_leftovers)


def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def http_ok(url: str, timeout: float = 0.5) -> bool:
    try:
        return httpx.get(url, timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


class Proc:
    """A child process with its output in a log file; stopped by pid."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str], cwd: Path, log: Path):
        self.name = name
        self.argv = argv
        self.env = dict(env)
        self.cwd = cwd
        self.log_path = log
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.stop_signal = signal.SIGTERM

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def spawn(self) -> None:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._log.write(f"---- start {time.strftime('%H:%M:%S')}: {self.argv}\n".encode())
        self._log.flush()
        self.proc = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C of pytest does not reach it; we stop it
        )
        _LIVE[self.proc.pid] = self.proc

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        """The polite signal, SIGKILL after ``timeout`` seconds. Idempotent."""
        proc, self.proc = self.proc, None
        if proc is not None:
            try:
                if proc.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(proc.pid, self.stop_signal)
                    try:
                        proc.wait(timeout)
                    except subprocess.TimeoutExpired:
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(proc.pid, signal.SIGKILL)
                        proc.wait(10)
            finally:
                _LIVE.pop(proc.pid, None)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def fail(self, what: str) -> RuntimeError:
        return RuntimeError(f"{self.name}: {what}\n--- last lines of {self.log_path}:\n"
                            f"{self.log_tail()}")  # fmt: skip


# ---------------------------------------------------------------- the gateway
def load_rig_json(name: str) -> Any:
    return json.loads((RIG_FIXTURES / name).read_text())


def make_seed(service_names: tuple[str, ...] = SERVICE_NAMES) -> dict[str, Any]:
    """rig/provision.json, with the test package's ACL opened to every test service."""
    seed: dict[str, Any] = load_rig_json("provision.json")
    for product in seed["products"]:
        for package in product["packages"]:
            acl = package["acl"]["dev"]
            template = acl["hello"]
            for name in service_names:
                acl.setdefault(name, copy.deepcopy(template))
    return seed


def ext_key() -> str:
    """The working external key of tenant TST1 (made with the gateway's key module)."""
    seed = load_rig_json("provision.json")
    key: str = seed["tenants"][0]["applications"][0]["keys"][0]["extKeys"][0]["extKey"]
    return key


class Gateway:
    """``soajs.controller`` in solo mode on loopback ports of its own.

    ``auto_reload_ms`` (the services' poll period) defaults to a minute: every
    ``/getRegistry`` call starts one more perpetual health-check loop in 4.3.4,
    so fast polling makes the gateway busier the longer it runs. Tests that need
    fast polling (the outage) use a private gateway.
    """

    def __init__(
        self,
        controller_dir: Path,
        workdir: Path,
        *,
        health_check_ms: int = 1000,
        auto_reload_ms: int = 60_000,
        seed: dict[str, Any] | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
    ) -> None:
        """``host``/``port``: a second gateway on another loopback IP, same ports."""
        self.controller_dir = controller_dir
        self.host = host
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        profile: dict[str, Any] = load_rig_json("profile.json")
        self.maintenance_inc = int(profile["services"]["config"]["ports"]["maintenanceInc"])
        self.port = port or free_port_pair(self.maintenance_inc)
        profile["port"] = self.port
        profile["services"]["config"]["ports"]["controller"] = self.port
        awareness = profile["services"]["config"]["awareness"]
        awareness["healthCheckInterval"] = health_check_ms
        awareness["autoRelaodRegistry"] = auto_reload_ms  # sic: 4.3.4's spelling
        profile["services"]["config"]["logger"]["level"] = "info"
        self.profile = profile
        self.health_check_ms = health_check_ms
        self.auto_reload_ms = auto_reload_ms
        self.profile_path = workdir / "profile.json"
        self.seed_path = workdir / "provision.json"
        #: What the gateway hands its marketplace model (preload.js, point 4).
        self.marketplace_path = workdir / "marketplace.json"
        self.profile_path.write_text(json.dumps(profile, indent=1))
        self.seed_path.write_text(json.dumps(seed if seed is not None else make_seed(), indent=1))
        node = shutil.which("node") or "node"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOAJS_")}
        env.update(
            SOAJS_SOLO="true",
            SOAJS_ENV="dev",
            SOAJS_SRVIP=host,
            SOAJS_INTEROP_LISTEN_HOST=host,
            SOAJS_INTEROP_MARKETPLACE=str(self.marketplace_path),
            SOAJS_DEPLOY_MANUAL="1",
            # 4.3.4 require()s SOAJS_PROFILE: it is a file path, not the JSON itself
            SOAJS_PROFILE=str(self.profile_path),
            SOAJS_INTEROP_SEED=str(self.seed_path),
            NO_COLOR="1",
            FORCE_COLOR="0",
        )
        self.process = Proc(
            "gateway",
            [node, "-r", str(PRELOAD), str(controller_dir / "index.js")],
            env,
            cwd=workdir,
            log=workdir / "gateway.log",
        )
        # it ignores SIGTERM (a handler in its proxy code); SIGINT makes it exit
        self.process.stop_signal = signal.SIGINT
        self.starts = 0

    # addresses
    @property
    def maintenance_port(self) -> int:
        return self.port + self.maintenance_inc

    @property
    def registry_api(self) -> str:
        """What a service puts in SOAJS_REGISTRY_API."""
        return f"{self.host}:{self.maintenance_port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def maintenance_url(self) -> str:
        return f"http://{self.host}:{self.maintenance_port}"

    # lifecycle
    def start(self, timeout: float = 30.0) -> Gateway:
        on = None if self.host == "127.0.0.1" else self.host
        busy = [p for p in (self.port, self.maintenance_port) if not port_is_free(p, on)]
        if busy:
            # it would log EADDRINUSE and keep running, half alive: refuse instead
            raise RuntimeError(f"gateway ports already in use: {busy}")
        self.process.spawn()
        self.starts += 1
        up = wait_until(lambda: not self.process.alive() or self.is_up(), timeout=timeout, step=0.1)
        if not up or not self.process.alive():
            self.stop()
            raise self.process.fail(f"did not answer on {self.maintenance_url}/heartbeat")
        return self

    def is_up(self) -> bool:
        if not http_ok(f"{self.maintenance_url}/heartbeat"):
            return False
        with socket.socket() as sock:
            sock.settimeout(0.5)
            return sock.connect_ex((self.host, self.port)) == 0

    def stop(self, timeout: float = 5.0) -> None:
        self.process.stop(timeout)

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # calls
    def get_registry(self, service: str, type: str = "service") -> dict[str, Any]:
        answer = httpx.get(
            f"{self.maintenance_url}/getRegistry",
            params={"env": "dev", "serviceName": service, "type": type},
            timeout=5,
        )
        body: dict[str, Any] = answer.json()
        return body

    def marketplace(self) -> list[dict[str, Any]]:
        """The services the gateway handed its marketplace model (``mw: true`` only)."""
        try:
            data: list[dict[str, Any]] = json.loads(self.marketplace_path.read_text())
        except (OSError, ValueError):
            return []
        return data

    def add_controller(self, other: Gateway) -> None:
        """Register ``other`` as a second host of the ``controller`` service, as the
        controllers of one environment are listed (``services.controller.hosts``)."""
        answer = httpx.post(
            f"{self.maintenance_url}/register",
            json={"name": "controller", "group": "Gateway", "port": other.port, "ip": other.host,
                  "type": "service", "version": "1"},
            timeout=5,
        )  # fmt: skip
        assert answer.json().get("result") is True, answer.text

    def awareness(self) -> dict[str, Any]:
        """``GET /awarenessStat``: every service with its hosts and health (unfiltered)."""
        answer = httpx.get(f"{self.maintenance_url}/awarenessStat", timeout=5)
        data: dict[str, Any] = answer.json().get("data") or {}
        return data

    def registered_hosts(self, service: str) -> list[str]:
        """The hosts the gateway lists for ``service`` (empty when unknown).

        Not from /getRegistry: its copy of the asking service has only group and port.
        """
        try:
            entry = (self.awareness().get("services") or {}).get(service) or {}
        except (httpx.HTTPError, ValueError):
            return []
        hosts = entry.get("hosts") or {}
        return [h for key, value in hosts.items() if key != "latest" for h in value]

    def host_health(self, service: str) -> dict[str, bool]:
        """The gateway's last health verdict on each host of ``service``."""
        try:
            entry = (self.awareness().get("services") or {}).get(service) or {}
        except (httpx.HTTPError, ValueError):
            return {}
        stats = entry.get("awarenessStats") or {}
        return {host: bool(s.get("healthy")) for host, s in stats.items()}

    def healthy(self, service: str) -> bool | None:
        """What the gateway's last health check of ``service`` said (None: never checked)."""
        try:
            entry = (self.awareness().get("services") or {}).get(service) or {}
        except (httpx.HTTPError, ValueError):
            return None
        stats = entry.get("awarenessStats") or {}
        if not stats:
            return None
        return all(bool(s.get("healthy")) for s in stats.values())


# ---------------------------------------------------------------- our services
#: How each example is served for real, by kind. {port} is filled in.
SERVERS: dict[str, list[str]] = {
    "fastapi": [sys.executable, "-m", "uvicorn", "examples.fastapi_app:app",
                "--host", "127.0.0.1", "--port", "{port}", "--log-level", "warning"],
    "flask": [sys.executable, "-m", "flask", "--app", "examples.flask_app", "run",
              "--host", "127.0.0.1", "--port", "{port}", "--no-reload", "--no-debugger"],
    "django": [sys.executable, "-m", "django", "runserver", "127.0.0.1:{port}",
               "--noreload", "--skip-checks", "--settings", "examples.django_app.settings"],
}  # fmt: skip


class Service:
    """One of the examples, served for real and configured by SOAJS_* variables alone."""

    def __init__(
        self,
        kind: str,
        name: str,
        gateway: Gateway,
        workdir: Path,
        *,
        ext_key_required: bool = True,
        trusted_gateways: str = "127.0.0.1",
        inter_connect: str | None = None,
        app: str | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.kind = kind
        self.name = name
        self.gateway = gateway
        self.host = host  # also the address it registers (SOAJS_SRVIP)
        self._port_chosen = port is None  # ours to change when another process took it
        self.port = port or free_port_pair(gateway.maintenance_inc)
        argv = [
            part.replace("{port}", str(self.port)).replace("127.0.0.1", host)
            for part in SERVERS[kind]
        ]
        if app is not None:  # another app module, served the same way
            first = next(i for i, part in enumerate(argv) if part.startswith("examples."))
            argv[first] = app
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOAJS_")}
        env.update(
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
            PYTHONUNBUFFERED="1",
            SOAJS_REGISTRY_API=gateway.registry_api,
            SOAJS_ENV="dev",
            SOAJS_DEPLOY_MANUAL="1",
            SOAJS_SRVIP=host,
            SOAJS_TRUSTED_GATEWAYS=trusted_gateways,
            SOAJS_SERVICE_NAME=name,
            SOAJS_SERVICE_PORT=str(self.port),
            SOAJS_SERVICE_EXT_KEY_REQUIRED="true" if ext_key_required else "false",
        )
        if inter_connect:
            env["SOAJS_SERVICE_INTERCONNECT"] = inter_connect
        env.update(extra_env or {})
        workdir.mkdir(parents=True, exist_ok=True)
        log = workdir / (f"{name}.log" if host == "127.0.0.1" else f"{name}-{host}.log")
        self.process = Proc(f"{kind} service {name!r} on {host}", argv, env, ROOT, log)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def maintenance_port(self) -> int:
        return self.port + self.gateway.maintenance_inc

    def start(self, timeout: float = 30.0) -> Service:
        for attempt in range(3):
            self.process.spawn()
            up = wait_until(
                lambda: not self.process.alive() or http_ok(f"{self.url}/heartbeat"),
                timeout=timeout,
                step=0.1,
            )
            if up and self.process.alive():
                return self
            self.stop()
            if attempt < 2 and self._port_taken():
                self._move_port()  # another process on this shared machine took it meanwhile
                continue
            break
        raise self.process.fail(f"did not answer on {self.url}/heartbeat")

    def _port_taken(self) -> bool:
        try:
            text = self.process.log_path.read_text(errors="replace")
        except OSError:
            return False
        return self._port_chosen and "already in use" in text.lower()  # uvicorn, Django

    def _move_port(self) -> None:
        old, new = str(self.port), str(free_port_pair(self.gateway.maintenance_inc))
        self.process.argv = [
            new if part == old else part[: -len(old)] + new if part.endswith(f":{old}") else part
            for part in self.process.argv
        ]
        self.process.env["SOAJS_SERVICE_PORT"] = new
        self.port = int(new)
        with contextlib.suppress(OSError):  # the next failure must be told from this one
            self.process.log_path.write_text("")

    def stop(self, timeout: float = 5.0) -> None:
        self.process.stop(timeout)

    def __enter__(self) -> Service:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def running(*things: Gateway | Service) -> Iterator[None]:
    """Start them in order; stop them all, in reverse order, whatever happens."""
    started: list[Gateway | Service] = []
    try:
        for thing in things:
            started.append(thing)
            thing.start()
        yield
    finally:
        for thing in reversed(started):
            thing.stop()
