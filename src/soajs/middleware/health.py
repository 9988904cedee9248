"""The endpoints the gateway and operators call on a SOAJS service.

``GET /heartbeat`` (any 200 = healthy), the configured readiness path (200
once the registry is loaded, 503 before) and ``GET /reloadRegistry`` (reload
now, answer with the envelope). Framework-free: the ASGI and WSGI adapters
and the maintenance listener all answer through :class:`HealthEndpoints`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from soajs.errors import SoajsError
from soajs.models.envelope import make_envelope

__all__ = ["HealthAnswer", "HealthEndpoints"]

logger = logging.getLogger("soajs.middleware")

JSON = "application/json"


@dataclass(frozen=True, slots=True)
class HealthAnswer:
    status: int
    body: bytes
    content_type: str = JSON


class HealthEndpoints:
    """Answers the health paths for one service.

    ``registry`` is the RegistryManager (or ``None``); ``readiness_path``
    defaults to the service Config's ``maintenance.readiness``.
    """

    def __init__(
        self, registry: Any = None, readiness_path: str | None = None, service: str | None = None
    ) -> None:
        self.registry = registry
        config = getattr(registry, "config", None)
        if readiness_path is None and config is not None:
            readiness_path = config.maintenance.readiness
        self.readiness_path = readiness_path or "/heartbeat"
        self.service = service or getattr(registry, "service_name", None) or "service"
        self.paths = frozenset({"/heartbeat", self.readiness_path, "/reloadRegistry"})

    def needs_io(self, path: str) -> bool:
        """True for the paths that call the control plane (run them off the event loop)."""
        return path == "/reloadRegistry"

    def answer(self, method: str, path: str) -> HealthAnswer | None:
        """The answer for ``method path``, or ``None`` when it is not a health path."""
        if path not in self.paths or method not in ("GET", "HEAD"):
            return None
        if path == "/reloadRegistry":
            return self._reload()
        if path == self.readiness_path and path != "/heartbeat":
            return self._ready()
        return self._envelope(path, ok=True)

    def unhealthy(self, path: str, reason: str) -> HealthAnswer:
        """503 with the envelope: the process that serves traffic does not (``reason``)."""
        return self._envelope(path, ok=False, status=503, error=(503, reason))

    def _ready(self) -> HealthAnswer:
        ready = self.registry is None or bool(getattr(self.registry, "is_ready", True))
        if ready:
            return self._envelope(self.readiness_path, ok=True)
        return self._envelope(
            self.readiness_path, ok=False, status=503, error=(503, "registry not loaded yet")
        )

    def _reload(self) -> HealthAnswer:
        route = "/reloadRegistry"
        if self.registry is None:
            return self._envelope(route, ok=False, error=(501, "no registry to reload"))
        try:
            self.registry.reload()
        except SoajsError as exc:
            logger.warning("reload requested on %s failed: %s", route, exc)
            return self._envelope(route, ok=False, status=503, error=(503, str(exc)))
        return self._envelope(route, ok=True)

    def _envelope(
        self,
        route: str,
        *,
        ok: bool,
        status: int = 200,
        error: tuple[int, str] | None = None,
    ) -> HealthAnswer:
        body = make_envelope(
            route, errors=[error] if error and not ok else None, service=self.service
        )
        body["result"] = ok
        return HealthAnswer(status, json.dumps(body, separators=(",", ":")).encode())
