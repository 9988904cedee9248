"""What the ASGI and WSGI middlewares share: options, resolver, health, listener.

Both adapters build one :class:`AdapterCore` from the same keyword options
(:class:`MiddlewareOptions`) and differ only in how they read a request and
write a response.
"""

from __future__ import annotations

import logging
from collections.abc import Container, Iterable, MutableMapping
from typing import Any, TypedDict

from soajs import workers
from soajs.context.parser import ParseResult, wsgi_header_bytes
from soajs.context.resolver import ContextResolver
from soajs.context.trust import (
    FORWARDED_ENVIRON_KEY,
    FORWARDING_HEADERS,
    XFF_ENVIRON_KEYS,
    hop_chain,
    peer_was_rewritten,
)
from soajs.errors import ConfigurationError
from soajs.middleware.health import HealthEndpoints
from soajs.middleware.listener import MaintenanceListener
from soajs.middleware.problem import PROBLEM_CONTENT_TYPE, problem_body
from soajs.models.context import ContextData
from soajs.observability import workers as metrics_workers
from soajs.observability.export import METRICS_PATH
from soajs.registry import RegistryManager, processes

__all__ = [
    "ENVIRON_HEADER",
    "STRICT_BODY",
    "AdapterCore",
    "MiddlewareOptions",
    "warn_if_never_started",
]

logger = logging.getLogger("soajs.middleware")

#: The header as a WSGI environ (and Django's ``request.META``) names it.
ENVIRON_HEADER = "HTTP_SOAJSINJECTOBJ"

STRICT_BODY = problem_body(
    400,
    "Missing or invalid SOAJS context",
    "This service only answers requests proxied by the SOAJS gateway.",
)


class MiddlewareOptions(TypedDict, total=False):
    """Keyword options of both middlewares.

    trusted_gateways
        IPs/CIDRs the header is believed from (``"*"`` = any). Default
        ``SOAJS_TRUSTED_GATEWAYS``; unset trusts any peer, with a WARNING.
    trusted_proxy_hops
        Reverse proxies between the gateway and this service (default
        ``SOAJS_TRUSTED_PROXY_HOPS``, 0); see docs/middleware.md, Trust.
    public_service
        Ignore the header entirely (default: the registry Config's
        ``extKeyRequired`` is false).
    strict
        Answer 400 problem+json to requests without a valid context (health
        paths excepted).
    max_header_size, cache_size, cache_bytes
        Default ``SOAJS_MAX_INJECT_HEADER_SIZE``, ``SOAJS_CONTEXT_CACHE_SIZE`` and
        ``SOAJS_CONTEXT_CACHE_BYTES`` (32 MiB).
    health
        Answer ``/heartbeat``, the readiness path and ``/reloadRegistry``.
    readiness_path
        Default: the registry Config's ``maintenance.readiness``.
    maintenance_listener
        Also answer them on port + ``maintenanceInc``.
    maintenance_host
        Address the maintenance listener binds (default ``SOAJS_MAINTENANCE_HOST``,
        else where the service's own server listens).
    response_format
        ``"problem"`` (problem+json) or ``"envelope"`` (the SOAJS envelope, code
        142) for the strict-mode refusal; default the registry Config's
        ``response_format``, else ``"problem"``.
    stall_timeout
        Seconds the serving event loop (ASGI) may take to run a callback before
        the maintenance ``/heartbeat`` and readiness answer 503 (default
        ``SOAJS_HEALTH_STALL_TIMEOUT``, 2).
    metrics_on_service_port
        Also answer ``GET /metrics`` on the service port (default
        ``SOAJS_METRICS_ON_SERVICE_PORT``, off; docs/observability.md).
    """

    trusted_gateways: Iterable[str] | str | None
    trusted_proxy_hops: int | None
    public_service: bool | None
    strict: bool
    max_header_size: int | None
    cache_size: int | None
    cache_bytes: int | None
    health: bool
    readiness_path: str | None
    maintenance_listener: bool
    maintenance_host: str | None
    stall_timeout: float | None
    response_format: str | None
    metrics_on_service_port: bool | None


class _EveryPath:
    """Contains every path: `AdapterCore.own_paths` before the first request."""

    def __contains__(self, path: object) -> bool:
        return True


_EVERY_PATH = _EveryPath()


class AdapterCore:
    """The per-app state of a middleware, built once at start-up."""

    def __init__(self, registry: Any, component: str, **options: Any) -> None:
        opts: MiddlewareOptions = options  # type: ignore[assignment]
        unknown = set(options) - set(MiddlewareOptions.__annotations__)
        if unknown:
            raise TypeError(f"{component}: unknown option(s) {', '.join(sorted(unknown))}")
        self.registry = registry
        self.component = component
        if isinstance(registry, RegistryManager):
            processes.serves_requests(registry)  # a --preload master hands polling off
        self.strict = bool(opts.get("strict", False))
        #: The strict-mode refusal's body and Content-Type (status 400).
        self.refusal_body, self.refusal_type = refusal(registry, opts.get("response_format"))
        #: True until the first request (see :meth:`first_request`).
        self.first = True
        self.resolver = ContextResolver(
            registry,
            trusted_gateways=opts.get("trusted_gateways"),
            trusted_proxy_hops=opts.get("trusted_proxy_hops"),
            public_service=opts.get("public_service"),
            max_header_size=opts.get("max_header_size"),
            cache_size=opts.get("cache_size"),
            cache_bytes=opts.get("cache_bytes"),
            component=component,
        )
        with_health = opts.get("health", True)
        self.health = HealthEndpoints(registry, opts.get("readiness_path")) if with_health else None
        settings = self.resolver.settings.override(
            maintenance_host=opts.get("maintenance_host"),
            health_stall_timeout=opts.get("stall_timeout"),
        )
        self.listener = (
            MaintenanceListener.for_registry(
                registry,
                self.health,
                host=settings.maintenance_host,
                stall_timeout=settings.health_stall_timeout,
            )
            if with_health and opts.get("maintenance_listener", True)
            else None
        )
        metrics_here = opts.get("metrics_on_service_port")
        #: "/metrics" when the service port answers it too, else None
        self.metrics_path = (
            METRICS_PATH
            if (settings.metrics_on_service_port if metrics_here is None else metrics_here)
            else None
        )

        #: The paths the adapter may answer itself (health, /metrics): one set lookup
        #: per request. Every path until the first request (see `first_request`).
        self.own_paths: Container[str] = _EVERY_PATH
        own = set(self.health.paths) if self.health is not None else set()
        if self.metrics_path is not None:
            own.add(self.metrics_path)
        self._paths = frozenset(own)

    def resolve_scope(self, values: list[bytes], scope: MutableMapping[str, Any]) -> ParseResult:
        """The context of an ASGI request whose ``soajsinjectobj`` values are ``values``.

        The peer is ``scope["client"]``; when trust is restricted, a client the
        server took from the forwarding headers (uvicorn's proxy headers) is
        detected and refused: see :mod:`soajs.context.trust`.
        """
        resolver = self.resolver
        client = scope.get("client")
        if not resolver.checks_peer or not client:
            return resolver.resolve(values, client[0] if client else None)
        xff: list[str] = []
        real_ip: list[str] = []
        forwarded: list[str] = []
        for name, value in scope["headers"]:
            if name in FORWARDING_HEADERS:
                text = value.decode("latin-1")
                if name == b"x-forwarded-for":
                    xff.append(text)
                else:
                    (forwarded if name == b"forwarded" else real_ip).append(text)
        rewritten = bool(xff or real_ip or forwarded) and peer_was_rewritten(
            client[0], client[1] if len(client) > 1 else None, xff + real_ip, forwarded
        )
        gateway, proxies = hop_chain(client[0], xff, resolver.hops)
        return resolver.resolve(values, gateway, peer_rewritten=rewritten, proxies=proxies)

    def first_request(self, server_port: Any) -> None:
        """Once per adapter: this process serves requests (:mod:`soajs.workers`), and
        the listener learns the port of the server that serves them."""
        self.first = False
        self.own_paths = self._paths
        workers.mark_serving()
        metrics_workers.serving()  # publish this worker's counts for /metrics (observability)
        if self.listener is not None:
            try:
                port = int(server_port)
            except (TypeError, ValueError):
                return
            self.listener.server_seen(port)

    def environ_context(self, environ: MutableMapping[str, Any]) -> tuple[ContextData | None, bool]:
        """The context of a WSGI environ (or Django ``request.META``), and whether the
        header was removed from it (untrusted or rewritten peer, public service)."""
        raw = environ.get(ENVIRON_HEADER)
        if raw is None:
            return None, False
        resolver = self.resolver
        if resolver.checks_peer:
            peer, rewritten, xff = environ_peer(environ)
            gateway, proxies = hop_chain(peer, xff, resolver.hops)
            result = resolver.resolve(
                [wsgi_header_bytes(raw)], gateway, peer_rewritten=rewritten, proxies=proxies
            )
        else:
            result = resolver.resolve([wsgi_header_bytes(raw)], None)
        if result.context is None and resolver.ignores_header(result):
            del environ[ENVIRON_HEADER]
            return None, True
        return result.context, False


def environ_peer(environ: MutableMapping[str, Any]) -> tuple[str | None, bool, list[str]]:
    """The transport peer of a WSGI request, whether it is unknown (rewritten),
    and the ``X-Forwarded-For`` values as the transport peer sent them.

    Behind werkzeug's ``ProxyFix`` the original ``REMOTE_ADDR`` it keeps is
    the peer. Otherwise ``REMOTE_ADDR`` is the
    peer, unless it is one the forwarding headers name (a middleware or server
    rewrote it from them).
    """
    xff = environ.get("HTTP_X_FORWARDED_FOR")  # ProxyFix reads it, never changes it
    xff_values = [xff] if isinstance(xff, str) else []
    orig = environ.get("werkzeug.proxy_fix.orig")
    if isinstance(orig, dict) and "REMOTE_ADDR" in orig:
        original = orig["REMOTE_ADDR"]
        return (original if isinstance(original, str) else None), False, xff_values
    peer = environ.get("REMOTE_ADDR")
    if not isinstance(peer, str):
        return None, False, []
    values = [environ[k] for k in XFF_ENVIRON_KEYS if isinstance(environ.get(k), str)]
    forwarded = environ.get(FORWARDED_ENVIRON_KEY)
    extra = [forwarded] if isinstance(forwarded, str) else []
    if not values and not extra:
        return peer, False, xff_values
    return peer, peer_was_rewritten(peer, None, values, extra), xff_values


#: The strict-mode refusal in the SOAJS envelope: Node's code for a request that did
#: not come through the gateway (142), with our message.
STRICT_CODE = 142
STRICT_MESSAGE = "This service only answers requests proxied by the SOAJS gateway."


def refusal(registry: Any, response_format: str | None) -> tuple[bytes, str]:
    """The strict-mode 400's body and Content-Type for ``response_format`` (see
    :class:`MiddlewareOptions`); problem+json unless the envelope is chosen."""
    if response_format is None:
        config = getattr(registry, "config", None)
        chosen = getattr(config, "response_format", None)
        response_format = chosen if isinstance(chosen, str) else "problem"
    if response_format == "problem":
        return STRICT_BODY, PROBLEM_CONTENT_TYPE
    if response_format != "envelope":
        raise ConfigurationError(
            f"response_format must be 'problem' or 'envelope', got {response_format!r}"
        )
    from soajs.response.envelope import ENVELOPE_CONTENT_TYPE, dumps, error_envelope

    return dumps(error_envelope([(STRICT_CODE, STRICT_MESSAGE)])), ENVELOPE_CONTENT_TYPE


def warn_if_never_started(registry: Any, core: AdapterCore) -> None:
    """First request of a WSGI app whose registry nobody started: say so, once."""
    if registry is None or not hasattr(registry, "start"):
        return
    if getattr(registry, "is_ready", True) or getattr(registry, "is_running", True):
        return
    if getattr(registry, "is_stopped", False):
        return
    logger.warning(
        "%s: the first request came and the registry of %r was never started "
        "(RegistryManager(..., autostart=False) and no start()): readiness answers 503 "
        "until registry.start() is called",
        core.component,
        getattr(registry, "service_name", "?"),
    )
