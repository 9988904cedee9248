"""The local control plane's registry: a JSON file plus the services registered at run time.

The file holds one environment's registry, either bare (the shape of the
gateway's ``data``), as a whole captured ``GET /getRegistry`` envelope
(``{"result": true, "data": {...}}``) or as a recorded exchange
(``{"request", "status", "headers", "body": envelope}``): one loader,
``soajs.registry.offline.load_registry_data``'s, for all three.
It is re-read when it changes on disk, so editing it is how a developer
simulates an operator changing the registry.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

__all__ = ["RegistrationError", "RegistryFileError", "RegistryStore"]

logger = logging.getLogger("soajs.controlplane")

# Keys of a registration that the control plane keeps per version.
_VERSION_KEYS = (
    "extKeyRequired",
    "oauth",
    "urac",
    "urac_Profile",
    "urac_ACL",
    "urac_Config",
    "urac_GroupConfig",
    "tenant_Profile",
    "provision_ACL",
    "interConnect",
    "maintenance",
    "apis",
)


class RegistryFileError(Exception):
    """The registry file is missing or not a registry."""


class RegistrationError(Exception):
    """A ``POST /register`` body is not acceptable."""


class RegistryStore:
    """Thread-safe registry state of the local control plane."""

    def __init__(self, path: str | Path, *, host: str = "127.0.0.1") -> None:
        self.path = Path(path)
        self.host = host
        self._lock = threading.Lock()
        self._mtime_ns: int | None = None
        self._registry: dict[str, Any] = {}
        self._registered: dict[str, dict[str, Any]] = {}
        #: Calls answered, per route: what reached this control plane (tests, diagnostics).
        self.calls: Counter[str] = Counter()
        self.reload()

    def count(self, route: str) -> None:
        """Count one call of ``route`` (see ``calls``)."""
        with self._lock:
            self.calls[route] += 1

    # -- file -------------------------------------------------------------
    def reload(self) -> None:
        """Read the file now (``/reloadRegistry``)."""
        with self._lock:
            self._load_locked()

    def _load_locked(self) -> None:
        from soajs.errors import ConfigurationError
        from soajs.registry.offline import read_json_file, unwrap_registry

        try:
            stat = self.path.stat()
            raw = unwrap_registry(read_json_file(self.path), f"registry file {self.path}")
        except FileNotFoundError:
            raise RegistryFileError(f"registry file not found: {self.path}") from None
        except ConfigurationError as exc:
            raise RegistryFileError(str(exc)) from None
        if not isinstance(raw.get("serviceConfig", {}), dict):
            raise RegistryFileError(f"registry file {self.path} does not hold a registry object")
        raw["timeLoaded"] = int(time.time() * 1000)
        self._registry = raw
        self._mtime_ns = stat.st_mtime_ns
        logger.info("registry loaded from %s", self.path)

    def _fresh_locked(self) -> dict[str, Any]:
        try:
            mtime = self.path.stat().st_mtime_ns
        except OSError:
            return self._registry  # the file went away: keep serving the last one
        if mtime != self._mtime_ns:
            try:
                self._load_locked()
            except RegistryFileError as exc:
                logger.warning("%s; still serving the previous registry", exc)
                self._mtime_ns = mtime
        return self._registry

    @property
    def environment(self) -> str:
        with self._lock:
            reg = self._fresh_locked()
        return str(reg.get("environment") or reg.get("name") or "dev").lower()

    # -- API --------------------------------------------------------------
    def registry_for(self, service_name: str | None, service_type: str) -> dict[str, Any]:
        """The registry as ``GET /getRegistry`` serves it, filtered like gateway 4.3.4.

        ``type=service``: ``services`` holds the controller and, when named and
        known, the requesting service as ``{group, port}``; any other type gets
        every service and daemon. ``serviceConfig.cors`` is dropped, and
        ``serviceConfig.oauth`` too unless the requester is ``oauth``.
        """
        with self._lock:
            reg = copy.deepcopy(self._fresh_locked())
            registered = copy.deepcopy(self._registered)
        services: dict[str, Any] = dict(reg.get("services") or {})
        daemons: dict[str, Any] = dict(reg.get("daemons") or {})
        for name, entry in registered.items():
            (daemons if entry.get("type") == "daemon" else services)[name] = entry
        if service_type == "service":
            kept: dict[str, Any] = {}
            if "controller" in services:
                kept["controller"] = services["controller"]
            if service_name and service_name in services:
                own = services[service_name]
                kept[service_name] = {"group": own.get("group"), "port": own.get("port")}
            reg["services"] = kept
            reg.pop("daemons", None)
        else:
            reg["services"] = services
            reg["daemons"] = daemons
        config = reg.get("serviceConfig")
        if isinstance(config, dict):
            config.pop("cors", None)
            if service_name != "oauth":
                config.pop("oauth", None)
        ports = config.get("ports") if isinstance(config, dict) else None
        if "awareness" not in reg and isinstance(ports, dict) and ports.get("controller"):
            reg["awareness"] = {"host": self.host, "port": ports["controller"]}
        return reg

    def register(self, body: Any) -> dict[str, Any]:
        """Record a ``POST /register``; returns what the gateway returns in ``data``."""
        if not isinstance(body, dict):
            raise RegistrationError("the body must be a JSON object")
        missing = [
            k for k in ("name", "group", "port", "ip", "version") if body.get(k) in (None, "")
        ]
        if missing:
            raise RegistrationError(f"missing required field(s): {', '.join(missing)}")
        try:
            port = int(body["port"])
        except (TypeError, ValueError):
            raise RegistrationError(f"port must be an integer, got {body['port']!r}") from None
        name, version, ip = str(body["name"]), str(body["version"]), str(body["ip"])
        with self._lock:
            entry = self._registered.get(name) or {"versions": {}, "hosts": {}}
            entry.update(
                {
                    "group": body["group"],
                    "port": port,
                    "requestTimeout": body.get("requestTimeout"),
                    "requestTimeoutRenewal": body.get("requestTimeoutRenewal"),
                    "extKeyRequired": bool(body.get("extKeyRequired", False)),
                    "version": version,
                    "type": body.get("type", "service"),
                }
            )
            entry["versions"][version] = {k: body[k] for k in _VERSION_KEYS if k in body}
            hosts: list[str] = entry["hosts"].setdefault(version, [])
            if ip not in hosts:
                hosts.append(ip)
            entry["hosts"]["latest"] = max(
                (v for v in entry["hosts"] if v != "latest"), key=_version_key
            )
            self._registered[name] = entry
            data = copy.deepcopy(entry)
        data.pop("type", None)
        logger.info("registered %s v%s at %s:%s", name, version, ip, port)
        return data

    def registered(self) -> dict[str, dict[str, Any]]:
        """The services registered since start (a copy)."""
        with self._lock:
            return copy.deepcopy(self._registered)


def _version_key(version: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in version.split("."))
    except ValueError:
        return (0.0,)
