"""Which deployment mode a service runs in, worked out once from its settings.

A pure function of the settings, the service's :class:`~soajs.Config` and
the loaded registry (no I/O but the host-IP detection, which reads the
network interfaces and never waits): :func:`plan` answers the mode, the IP
and ports advertised, the controllers to register with, and ``mw``.

==========================  =====================================================
mode                        chosen by
==========================  =====================================================
``ha``                      ``SOAJS_DEPLOY_HA`` set (``kubernetes``): no IP detection,
                            no port override, no registration at all
``local``                   ``SOAJS_SRV_AUTOREGISTERHOST=false`` (even with
                            ``SOAJS_DEPLOY_MANUAL``, as in Node): advertises
                            127.0.0.1 and registers nowhere
``manual``                  ``SOAJS_DEPLOY_MANUAL=true``: registers with ``mw: true``;
                            advertises ``SOAJS_SRVIP``, else 127.0.0.1 (a laptop)
``host``                    neither (``SOAJS_SRV_AUTOREGISTERHOST`` true, the
                            default): registers with every controller host;
                            advertises ``SOAJS_SRVIP``, else the detected host IP
==========================  =====================================================
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from soajs.registry.hostip import detect_host_ip

if TYPE_CHECKING:
    from soajs.config import Config
    from soajs.settings import Settings

__all__ = [
    "MAX_CONTROLLER_HOSTS",
    "ControllerTarget",
    "DeploymentPlan",
    "controller_targets",
    "maintenance_port",
    "plan",
]

logger = logging.getLogger("soajs.registry")

Mode = Literal["ha", "manual", "host", "local"]
LOOPBACK = "127.0.0.1"
#: Controller hosts registered with, at most (a hostile registry cannot fan out further).
MAX_CONTROLLER_HOSTS = 64
_DEFAULT_MAINTENANCE_INC = 1000


@dataclass(frozen=True, slots=True)
class ControllerTarget:
    """A controller's maintenance port, where ``POST /register`` goes."""

    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def __str__(self) -> str:
        return self.url[len("http://") :]


@dataclass(frozen=True, slots=True)
class DeploymentPlan:
    """What the service advertises and whom it registers with."""

    mode: Mode
    ip: str | None  # None only in HA without SOAJS_SRVIP
    ip_source: str
    data_port: int | None
    register: bool
    mw: bool
    orchestrator: str | None = None

    def describe(self) -> str:
        """One line for the start-up log (nothing secret)."""
        what = {
            "ha": f"HA ({self.orchestrator}): no registration, the orchestrator routes",
            "manual": "manual deployment: registers with mw=true",
            "host": "host auto-register: registers with every controller",
            "local": "auto-register off: registers nowhere",
        }[self.mode]
        return f"{what}; ip {self.ip or '(none)'} ({self.ip_source}); data port {self.data_port}"


def plan(settings: Settings, config: Config | None) -> DeploymentPlan:
    """The deployment plan of a service with ``settings`` and ``config``."""
    port = config.port if config is not None else None
    configured_ip = (config.ip if config is not None else None) or settings.srv_ip
    if settings.deploy_ha:
        source = "SOAJS_SRVIP" if configured_ip else "not detected in HA"
        return DeploymentPlan(
            "ha", configured_ip, source, port, False, False, orchestrator=settings.deploy_ha
        )
    data_port = settings.srv_port or port
    if not settings.auto_register_host:  # wins over manual deployment, as in Node
        return DeploymentPlan("local", LOOPBACK, "auto-register off", data_port, False, False)
    if settings.deploy_manual:
        ip, source = (configured_ip, "SOAJS_SRVIP") if configured_ip else (LOOPBACK, "default")
        return DeploymentPlan("manual", ip, source, data_port, config is not None, True)
    can = config is not None
    if configured_ip:
        return DeploymentPlan("host", configured_ip, "SOAJS_SRVIP", data_port, can, False)
    detected, source = detect_host_ip()
    if detected is None:
        logger.warning(
            "no external IPv4 interface found (%s): advertising %s; set SOAJS_SRVIP to the "
            "address the gateway reaches this host at",
            source,
            LOOPBACK,
        )
        detected, source = LOOPBACK, "fallback"
    return DeploymentPlan("host", detected, source, data_port, can, False)


def maintenance_port(settings: Settings, config: Config, maintenance_inc: int | None) -> int:
    """The maintenance port: ``SOAJS_SRVPORT`` + maintenanceInc when that is set (outside HA).

    Otherwise :meth:`Config.maintenance_port` (port + maintenanceInc, ``inherit``
    or ``custom``). Raises ConfigurationError when the sum is not a TCP port.
    """
    kind = config.maintenance.port.type
    if settings.srv_port is None or settings.deploy_ha or kind == "custom":
        return config.maintenance_port(maintenance_inc)
    if kind == "inherit":
        return settings.srv_port
    return config.model_copy(update={"port": settings.srv_port}).maintenance_port(maintenance_inc)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _version_key(version: str) -> tuple[int, ...] | None:
    parts = version.strip().split(".")
    if not 1 <= len(parts) <= 8 or not all(p.isascii() and p.isdigit() for p in parts):
        return None
    return tuple(int(p[:9]) for p in parts)


def _latest_hosts(hosts: Mapping[Any, Any]) -> list[Any] | tuple[Any, ...] | None:
    """The hosts of ``hosts["latest"]`` (as Node reads them); without ``latest``, those of
    the highest version listed, compared as numbers (``1.10`` > ``1.9``)."""
    latest = hosts.get("latest")
    if latest is not None:
        listed = hosts.get(str(latest))
        return listed if isinstance(listed, list | tuple) else None
    best: tuple[tuple[int, ...], Any] | None = None
    for version, entry in list(hosts.items())[:MAX_CONTROLLER_HOSTS]:
        key = _version_key(version) if isinstance(version, str) else None
        if key is not None and isinstance(entry, list | tuple) and (best is None or key > best[0]):
            best = (key, entry)
    return best[1] if best is not None else None


def controller_targets(registry: Any) -> list[ControllerTarget]:
    """Every host of the latest controller version, at controller port + maintenanceInc.

    The latest version is ``hosts["latest"]``, as the gateway writes it; without it,
    the highest version listed (numerically: ``1.10`` after ``1.9``).

    Read defensively from a loaded :class:`~soajs.models.registry.Registry`
    (``services.controller.hosts``, ``serviceConfig.ports.maintenanceInc``):
    a malformed entry is skipped, the list is capped at
    :data:`MAX_CONTROLLER_HOSTS` and deduplicated.
    """
    try:
        controller = registry.services.get("controller")
    except AttributeError:
        return []
    if controller is None:
        return []
    port = _int(getattr(controller, "port", None))
    hosts = getattr(controller, "hosts", None)
    if port is None or hosts is None:
        return []
    if not isinstance(hosts, Mapping):
        dumped = getattr(hosts, "model_dump", None)
        hosts = dumped() if callable(dumped) else None
        if not isinstance(hosts, Mapping):
            return []
    listed = _latest_hosts(hosts)
    if listed is None:
        return []
    try:
        inc = registry.maintenance_inc
    except Exception:
        inc = None
    inc = _int(inc)
    target_port = port + (_DEFAULT_MAINTENANCE_INC if inc is None else inc)
    if not 1 <= target_port <= 65535:
        return []
    out: list[ControllerTarget] = []
    for ip in listed:
        if not isinstance(ip, str) or not ip.strip() or len(ip) > 253:
            continue
        if any(c.isspace() or c in "/?#@[]" for c in ip.strip()):
            continue
        target = ControllerTarget(ip.strip(), target_port)
        if target not in out:
            out.append(target)
        if len(out) >= MAX_CONTROLLER_HOSTS:
            break
    return out
