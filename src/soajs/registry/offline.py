"""A :class:`~soajs.registry.manager.RegistryManager` with no control plane: tests, notebooks, CLI.

``RegistryManager.from_dict(data, "hello")`` and
``RegistryManager.from_file("registry.json", "hello")`` build a manager whose
registry comes from a dict or a JSON file instead of ``GET /getRegistry``:

* no network: no HTTP client is ever made, nothing is registered;
* no thread: no poller, no reload broadcast; :meth:`reload` (and
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

__all__ = ["OFFLINE_API", "OfflineRegistryManager", "load_registry_data"]

#: Stands for the control plane in the settings of an offline manager (never dialled).
OFFLINE_API = "offline.invalid:1"


def load_registry_data(source: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    """The registry dict of ``source``: a mapping (deep-copied) or a JSON file's content.

    A captured envelope (``{"result": ..., "data": {...}}``) gives its ``data``, and so
    does a recorded exchange (``{"request", "status", "headers", "body": envelope}``).
    Raises :class:`~soajs.errors.ConfigurationError` naming the file and the problem.
    """
    if isinstance(source, Mapping):
        data: Any = copy.deepcopy(dict(source))
    else:
        path = Path(source)
        try:
            data = json.loads(path.read_bytes())
        except OSError as exc:
            raise ConfigurationError(f"cannot read registry file {path}: {exc.strerror}") from None
        except (ValueError, RecursionError) as exc:
            raise ConfigurationError(f"registry file {path} is not JSON: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("body"), dict) and "status" in data:
        data = data["body"]  # a recorded exchange: {request, status, headers, body}
    if isinstance(data, dict) and "result" in data and isinstance(data.get("data"), dict):
        data = data["data"]
    if not isinstance(data, dict):
        raise ConfigurationError(f"a registry must be a JSON object, got {type(data).__name__}")
    return data


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
        """:meth:`reload` now; the ticket is already resolved. Never raises."""
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
