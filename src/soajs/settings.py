"""Settings from the environment (``SOAJS_*``), parsed and validated in one place.

Every setting can also be given as a keyword argument, which wins over the
environment. A bad or missing value raises :class:`~soajs.errors.ConfigurationError`
naming the variable (or argument), the value and what was expected.

========================================  ===========  =========================================
variable (argument)                       default      meaning
========================================  ===========  =========================================
``SOAJS_REGISTRY_API`` (registry_api)     required     ``host:port`` of the control plane
``SOAJS_ENV`` (env)                       required     environment code, sent lower-cased
``SOAJS_DEPLOY_MANUAL`` (deploy_manual)   false        manual deployment (``mw: true``)
``SOAJS_DEPLOY_HA`` (deploy_ha)           unset        ``kubernetes``: HA, no registration
``SOAJS_SRV_AUTOREGISTERHOST``            true         register the host with every controller
``SOAJS_SRVIP`` (srv_ip)                  detected     IP advertised when registering
``SOAJS_SRVPORT`` (srv_port)              unset        data port advertised (``portHost``)
``SOAJS_MAX_INJECT_HEADER_SIZE``          65536        largest ``soajsinjectobj`` accepted, bytes
``SOAJS_TRUSTED_GATEWAYS``                unset (any)  IPs/CIDRs the header is believed from, ``*``
``SOAJS_REGISTRY_TIMEOUT``                5            seconds per control-plane exchange, in total
``SOAJS_REGISTRY_MAX_BYTES``              16777216     largest control-plane answer accepted, bytes
``SOAJS_RELOAD_MIN_INTERVAL``             1            seconds between two requested reloads
``SOAJS_RELOAD_ANSWER_WAIT``               1            seconds /reloadRegistry waits, then 202
``SOAJS_RUNTIME_DIR``                     (a tmp dir)  where reload broadcast stamps live
``SOAJS_CONTEXT_CACHE_SIZE``              1024         parsed contexts kept (0 disables the cache)
``SOAJS_CONTEXT_CACHE_BYTES``             33554432     memory the cached contexts may hold, bytes
``SOAJS_TRUSTED_PROXY_HOPS``              0            reverse proxies between gateway and service
``SOAJS_MAINTENANCE_HOST``                unset        address of the maintenance listener
``SOAJS_HEALTH_STALL_TIMEOUT``            2            seconds the serving loop may take to answer
========================================  ===========  =========================================
"""

from __future__ import annotations

import ipaddress
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from soajs.errors import ConfigurationError

__all__ = [
    "DEFAULT_MAX_INJECT_HEADER_SIZE",
    "DEFAULT_REGISTRY_MAX_BYTES",
    "Settings",
    "boolean_variables",
    "parse_bool",
    "parse_host_port",
]

DEFAULT_MAX_INJECT_HEADER_SIZE = 65536
#: 16 MiB: a real registry is a few tens of KiB.
DEFAULT_REGISTRY_MAX_BYTES = 16 * 1024 * 1024
_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0", ""})
#: Orchestrators ``SOAJS_DEPLOY_HA`` may name (the gateway 4.3 knows ``kubernetes``).
HA_ORCHESTRATORS = frozenset({"kubernetes", "swarm", "docker"})


def parse_host_port(source: str, value: str) -> tuple[str, int]:
    """Split ``host:port`` (``[v6]:port`` too), or raise naming ``source``."""
    expected = f"{source} must be host:port, got {value!r}"
    text = value.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text:
        raise ConfigurationError(expected)
    if host.startswith("["):
        if not host.endswith("]") or len(host) < 3:
            raise ConfigurationError(expected)
        host = host[1:-1]
    elif "://" in text:
        raise ConfigurationError(f"{expected} (no scheme: write host:port)")
    elif ":" in host:
        raise ConfigurationError(f"{expected} (write an IPv6 host as [addr]:port)")
    if not (port_text.isascii() and port_text.isdigit()):
        raise ConfigurationError(f"{expected} (the port must be an integer)")
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise ConfigurationError(f"{expected} (the port must be between 1 and 65535)")
    if any(c.isspace() or c in "/?#@[]" for c in host):
        raise ConfigurationError(f"{expected} (not a host name)")
    return host, port


def parse_bool(source: str, value: Any) -> bool:
    """``true``/``1`` -> True, ``false``/``0``/empty -> False (any case, spaces ignored).

    Anything else (``yes``, ``on``, a typo) raises
    :class:`~soajs.errors.ConfigurationError` naming ``source``: a setting
    that silently reads as false is a deployment surprise.
    """
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ConfigurationError(
        f"{source} must be true/1 or false/0, got {value!r} "
        "(yes/on/y are not read: write true or false)"
    )


_bool = parse_bool  # the name the parsers table used


def env_flag(name: str, default: bool) -> bool:
    """A boolean variable read at import (observability): the default when unset or bad.

    A bad value is not raised here (importing the library must not fail); the
    settings loaded when a RegistryManager starts raise it, naming the variable.
    """
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return parse_bool(name, raw)
    except ConfigurationError:
        return default


def _ha(source: str, value: Any) -> str | None:
    text = str(value).strip().lower()
    if not text:
        return None
    if text in _TRUE or text in _FALSE:
        # Node reads any non-empty value as "HA on": "false" would turn it on there.
        raise ConfigurationError(
            f"{source} names the orchestrator ({', '.join(sorted(HA_ORCHESTRATORS))}), "
            f"got {value!r}: unset it to deploy without an orchestrator"
        )
    if text not in HA_ORCHESTRATORS:
        raise ConfigurationError(
            f"{source} must be one of {', '.join(sorted(HA_ORCHESTRATORS))}, got {value!r}"
        )
    return text


def _port(source: str, value: Any) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not (text.isascii() and text.isdigit()):
        raise ConfigurationError(f"{source} must be a TCP port (1-65535), got {value!r}")
    port = int(text)
    if not 1 <= port <= 65535:
        raise ConfigurationError(f"{source} must be a TCP port (1-65535), got {value!r}")
    return port


def _env_code(source: str, value: Any) -> str:
    text = str(value).strip().lower()
    if not text or not all(c.isalnum() or c in "-_" for c in text):
        raise ConfigurationError(
            f"{source} must be an environment code such as 'dev', got {value!r}"
        )
    return text


def _registry_api(source: str, value: Any) -> str:
    host, port = parse_host_port(source, str(value))
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _ip(source: str, value: Any) -> str:
    text = str(value).strip()
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise ConfigurationError(f"{source} must be an IP address, got {value!r}") from None
    if address.is_unspecified or address.is_multicast:
        # advertised to the gateway: a bind-all or multicast address routes nowhere
        raise ConfigurationError(
            f"{source} must be an IP address the gateway reaches this host at "
            f"(not a bind-all or multicast address), got {value!r}"
        )
    return str(address)


def _host(source: str, value: Any) -> str:
    text = str(value).strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    if not text or any(c.isspace() or c in "/?#@[]:" for c in text):
        raise ConfigurationError(f"{source} must be an IP address or a host name, got {value!r}")
    return text


def _int_in(low: int, what: str) -> Callable[[str, Any], int]:
    def parse(source: str, value: Any) -> int:
        if isinstance(value, bool):
            raise ConfigurationError(f"{source} must be {what}, got {value!r}")
        try:
            number = int(str(value).strip())
        except ValueError:
            raise ConfigurationError(f"{source} must be {what}, got {value!r}") from None
        if number < low:
            raise ConfigurationError(f"{source} must be {what}, got {value!r}")
        return number

    return parse


def _seconds(source: str, value: Any) -> float:
    try:
        number = float(str(value).strip())
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number <= 0:
        raise ConfigurationError(f"{source} must be a positive number of seconds, got {value!r}")
    return number


def _non_negative_seconds(source: str, value: Any) -> float:
    try:
        number = float(str(value).strip())
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number < 0:
        raise ConfigurationError(f"{source} must be a number of seconds >= 0, got {value!r}")
    return number


def _path(source: str, value: Any) -> str:
    text = str(value).strip()
    if not text or "\x00" in text:
        raise ConfigurationError(f"{source} must be a directory path, got {value!r}")
    return text


def _networks(source: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        items = value.split(",")
    else:
        try:
            items = list(value)
        except TypeError:
            raise ConfigurationError(
                f"{source} must be a comma-separated list of IPs or CIDRs (or '*'), got {value!r}"
            ) from None
    out: list[str] = []
    for raw in items:
        item = str(raw).strip()
        if not item:
            continue
        if item == "*":
            out.append("*")
            continue
        try:
            out.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ConfigurationError(
                f"{source} must be a comma-separated list of IPs or CIDRs (or '*'), "
                f"got {item!r} in {value!r}"
            ) from None
    if not out:
        raise ConfigurationError(f"{source} must list at least one IP, CIDR or '*', got {value!r}")
    return tuple(out)


# attribute -> (environment variable, parser)
_SPEC: dict[str, tuple[str, Callable[[str, Any], Any]]] = {
    "registry_api": ("SOAJS_REGISTRY_API", _registry_api),
    "env": ("SOAJS_ENV", _env_code),
    "deploy_manual": ("SOAJS_DEPLOY_MANUAL", _bool),
    "deploy_ha": ("SOAJS_DEPLOY_HA", _ha),
    "auto_register_host": ("SOAJS_SRV_AUTOREGISTERHOST", _bool),
    "srv_ip": ("SOAJS_SRVIP", _ip),
    "srv_port": ("SOAJS_SRVPORT", _port),
    "max_inject_header_size": (
        "SOAJS_MAX_INJECT_HEADER_SIZE",
        _int_in(1, "a positive integer (bytes)"),
    ),
    "trusted_gateways": ("SOAJS_TRUSTED_GATEWAYS", _networks),
    "registry_timeout": ("SOAJS_REGISTRY_TIMEOUT", _seconds),
    "registry_max_bytes": (
        "SOAJS_REGISTRY_MAX_BYTES",
        _int_in(1024, "an integer >= 1024 (bytes)"),
    ),
    "reload_min_interval": ("SOAJS_RELOAD_MIN_INTERVAL", _non_negative_seconds),
    "reload_answer_wait": ("SOAJS_RELOAD_ANSWER_WAIT", _non_negative_seconds),
    "runtime_dir": ("SOAJS_RUNTIME_DIR", _path),
    "context_cache_size": ("SOAJS_CONTEXT_CACHE_SIZE", _int_in(0, "an integer >= 0")),
    "context_cache_bytes": (
        "SOAJS_CONTEXT_CACHE_BYTES",
        _int_in(0, "an integer >= 0 (bytes; 0 disables the cache)"),
    ),
    "trusted_proxy_hops": ("SOAJS_TRUSTED_PROXY_HOPS", _int_in(0, "an integer >= 0 (proxies)")),
    "maintenance_host": ("SOAJS_MAINTENANCE_HOST", _host),
    "health_stall_timeout": ("SOAJS_HEALTH_STALL_TIMEOUT", _seconds),
    # observability (docs/observability.md): SOAJS_METRICS, SOAJS_OTEL and
    # SOAJS_METRICS_PUBLISH_INTERVAL are read once at import by soajs.observability
    "metrics": ("SOAJS_METRICS", _bool),
    "otel": ("SOAJS_OTEL", _bool),
    "metrics_publish_interval": ("SOAJS_METRICS_PUBLISH_INTERVAL", _seconds),
    "metrics_on_service_port": ("SOAJS_METRICS_ON_SERVICE_PORT", _bool),
}


@dataclass(frozen=True, slots=True)
class Settings:
    """The ``SOAJS_*`` settings of one process. Build with :meth:`from_env`."""

    registry_api: str | None = None
    env: str | None = None
    deploy_manual: bool = False
    deploy_ha: str | None = None
    auto_register_host: bool = True
    #: ``None``: detected from the network interfaces (see :mod:`soajs.registry.hostip`).
    srv_ip: str | None = None
    srv_port: int | None = None
    max_inject_header_size: int = DEFAULT_MAX_INJECT_HEADER_SIZE
    trusted_gateways: tuple[str, ...] | None = None
    registry_timeout: float = 5.0
    registry_max_bytes: int = DEFAULT_REGISTRY_MAX_BYTES
    reload_min_interval: float = 1.0
    reload_answer_wait: float = 1.0
    runtime_dir: str | None = None
    context_cache_size: int = 1024
    context_cache_bytes: int = 32 * 1024 * 1024
    trusted_proxy_hops: int = 0
    maintenance_host: str | None = None
    health_stall_timeout: float = 2.0
    metrics: bool = True
    otel: bool = True
    metrics_publish_interval: float = 5.0
    metrics_on_service_port: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read the environment, then apply keyword overrides (``None`` = not given)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for attr, (var, parse) in _SPEC.items():
            if overrides.get(attr) is not None:
                continue  # the argument wins: a bad variable it replaces is not an error
            raw = env.get(var)
            if raw is not None and raw.strip() != "":
                values[attr] = parse(var, raw)
        return cls(**values).override(**overrides)

    def override(self, **overrides: Any) -> Settings:
        """A copy with keyword overrides applied and validated (``None`` = keep)."""
        unknown = set(overrides) - set(_SPEC)
        if unknown:
            raise TypeError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        values = {
            attr: _SPEC[attr][1](attr, value)
            for attr, value in overrides.items()
            if value is not None
        }
        return replace(self, **values) if values else self

    # -- required values -------------------------------------------------
    def require_registry_api(self) -> tuple[str, int]:
        """``(host, port)`` of the control plane, or a ConfigurationError."""
        if self.registry_api is None:
            raise ConfigurationError(
                "SOAJS_REGISTRY_API is required: set it to host:port of the control plane "
                "(e.g. 127.0.0.1:5000) or pass registry_api=..."
            )
        return parse_host_port("SOAJS_REGISTRY_API", self.registry_api)

    def require_env(self) -> str:
        """The environment code, or a ConfigurationError."""
        if self.env is None:
            raise ConfigurationError(
                "SOAJS_ENV is required: set it to the environment code (e.g. dev) "
                "or pass env_code=... to RegistryManager"
            )
        return self.env

    @property
    def registry_url(self) -> str:
        """``http://host:port`` of the control plane."""
        self.require_registry_api()
        return f"http://{self.registry_api}"

    def describe(self) -> dict[str, Any]:
        """The settings as a dict (nothing here is secret), for logs and the demo."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @staticmethod
    def variables() -> dict[str, str]:
        """Map of attribute name to environment variable."""
        return {attr: var for attr, (var, _) in _SPEC.items()}


def boolean_variables() -> frozenset[str]:
    """The environment variables read as booleans (strictly, by :func:`parse_bool`)."""
    return frozenset(var for var, parse in _SPEC.values() if parse is parse_bool)
