"""A ``RegistryManager`` with no control plane: tests, notebooks, CLI.

``RegistryManager.from_dict(data, "hello")`` and
``RegistryManager.from_file("registry.json", "hello")`` build a manager whose
registry comes from a dict or a JSON file instead of ``GET /getRegistry``:

* no network: no HTTP client is ever made, nothing is registered;
* no thread: no poller, no reload broadcast; ``reload`` (and
  ``/reloadRegistry``) re-reads the source in the caller's thread;
* no ``SOAJS_*`` variable is read: everything is an argument (the
  environment code defaults to the registry's own ``environment``).

The data goes through the same models as a control plane's answer, so a
registry a real service would refuse is refused here too, with the field
path. A file may hold the bare registry or a captured ``GET /getRegistry``
envelope (``{"result": true, "data": {...}}``).
"""

from __future__ import annotations

import copy
import json
import os
import stat
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from soajs.errors import ConfigurationError, RegistryError
from soajs.models.registry import Registry
from soajs.registry.manager import RegistryManager
from soajs.registry.reloads import ReloadOutcome, ReloadTicket
from soajs.settings import Settings

if TYPE_CHECKING:
    from soajs.config import Config
    from soajs.registry.client import ServiceType

__all__ = [
    "MAX_FILE_BYTES",
    "OFFLINE_API",
    "OfflineRegistryManager",
    "load_registry_data",
    "read_json_file",
    "unwrap_registry",
]

#: Stands for the control plane in the settings of an offline manager (never dialled).
OFFLINE_API = "offline.invalid:1"


#: The largest registry file read (at most this many bytes plus one are ever read).
MAX_FILE_BYTES = 64 * 1024 * 1024

#: Top-level keys of a registry: an object with none of them is not one.
REGISTRY_KEYS = frozenset(
    {
        "environment", "name", "coreDB", "tenantMetaDB", "serviceConfig", "services",
        "daemons", "custom", "resources", "deployer", "awareness", "timeLoaded",
    }
)  # fmt: skip


def read_json_file(path: str | Path, what: str = "registry file", *,
                   max_bytes: int = MAX_FILE_BYTES) -> Any:  # fmt: skip
    """The JSON content of the regular file ``path``, bounded in size and depth.

    Reads at most ``max_bytes + 1`` bytes; refuses what is not a regular file
    (a FIFO, a device such as ``/dev/zero``) without waiting on it, and JSON
    nested deeper than 128 levels. Raises ``ConfigurationError``
    naming the file and the problem, in one line.
    """
    from soajs.context.decode import _too_deep
    from soajs.registry.client import MAX_DEPTH

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise ConfigurationError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ConfigurationError(f"{what} {path} is not a regular file")
        try:
            raw = fh.read(max_bytes + 1)
        except OSError as exc:
            raise ConfigurationError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if len(raw) > max_bytes:
        raise ConfigurationError(f"{what} {path} is larger than {max_bytes} bytes")
    try:
        data = json.loads(raw)
    except RecursionError:
        data = None
    except ValueError as exc:
        raise ConfigurationError(f"{what} {path} is not JSON: {exc}") from None
    else:
        if raw.count(b"{") + raw.count(b"[") <= MAX_DEPTH or not _too_deep(raw, MAX_DEPTH):
            return data
    raise ConfigurationError(f"{what} {path} is nested deeper than {MAX_DEPTH} levels")


def unwrap_registry(data: Any, where: str = "the registry") -> dict[str, Any]:
    """The registry inside ``data``: bare, a ``{"result", "data"}`` envelope, or a
    recorded exchange ``{"request", "status", "headers", "body": envelope}``.

    Raises ``ConfigurationError`` when what is left is not a
    registry object (the one check shared by files, the CLI and the control plane).
    """
    if isinstance(data, dict) and "body" in data and "status" in data and "request" in data:
        data = data["body"]  # a recorded exchange
    if isinstance(data, dict) and "result" in data and ("data" in data or "errors" in data):
        if data.get("result") is not True or not isinstance(data.get("data"), dict):
            raise ConfigurationError(f"{where} is a failed or empty envelope, not a registry")
        data = data["data"]
    if not isinstance(data, dict):
        raise ConfigurationError(f"{where} must be a JSON object, got {type(data).__name__}")
    if not REGISTRY_KEYS.intersection(data):
        keys = ", ".join(sorted(map(str, data))[:5]) or "none"
        raise ConfigurationError(f"{where} does not hold a registry (top-level keys: {keys})")
    return data


def load_registry_data(source: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    """The registry dict of ``source``: a mapping (deep-copied) or a JSON file's content.

    A captured envelope (``{"result": ..., "data": {...}}``) gives its ``data``, and so
    does a recorded exchange (``{"request", "status", "headers", "body": envelope}``).
    Files are read as ``read_json_file`` does (bounded, regular files only).
    Raises ``ConfigurationError`` naming the file and the problem.
    """
    if isinstance(source, Mapping):
        return unwrap_registry(copy.deepcopy(dict(source)))
    return unwrap_registry(read_json_file(source), f"registry file {source}")


def _validate(data: dict[str, Any]) -> Registry:
    try:
        return Registry.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise ConfigurationError(f"not a valid registry: {where}: {err['msg']}") from None


class OfflineRegistryManager(RegistryManager):
    """A ``RegistryManager`` whose registry comes from a dict or file (see the module)."""

    def __init__(
        self,
        load: Callable[[], dict[str, Any]],
        service_name: str,
        *,
        env_code: str | None = None,
        service_type: ServiceType = "service",
        config: Config | None = None,
        source: str = "dict",
    ) -> None:
        self._load = load
        self.source = source
        registry = _validate(load())
        env = env_code or registry.environment or "dev"
        super().__init__(
            service_name,
            env,
            service_type,
            auto_reload=False,
            config=config,
            autostart=False,
            settings=Settings(env=str(env).lower(), registry_api=OFFLINE_API),
            deploy_manual=False,
            broadcast=False,
        )
        self._publish(registry)
        self._started = True

    def start(self) -> OfflineRegistryManager:
        """Nothing to start: the registry is loaded at construction."""
        if self._stopped:
            raise RegistryError(f"registry manager of {self.service_name!r} was stopped")
        return self

    def reload(self, timeout: float | None = None) -> Registry:
        """Read the source again, in this thread; the last registry stays on failure."""
        if self._stopped:
            raise RegistryError(f"registry manager of {self.service_name!r} was stopped")
        try:
            registry = _validate(self._load())
        except ConfigurationError as exc:
            error = RegistryError(str(exc))
            self.last_error = error
            raise error from None
        self._publish(registry)
        return registry

    def request_reload(self, *, broadcast: bool = True) -> ReloadTicket:
        """``reload`` now; the ticket is already resolved. Never raises."""
        future: Future[ReloadOutcome] = Future()
        try:
            registry = self.reload()
        except RegistryError as exc:
            future.set_result(ReloadOutcome.failed(exc))
        else:
            now = time.monotonic()
            future.set_result(ReloadOutcome(True, None, registry, now, now, datetime.now(UTC)))
        return ReloadTicket(future, "started")

    def register(self) -> Any:
        raise ConfigurationError("an offline RegistryManager has no control plane to register with")

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else "ready"
        return (
            f"<OfflineRegistryManager {self.service_name!r} env={self.env_code!r} "
            f"source={self.source} {state}>"
        )
