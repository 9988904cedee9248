"""``ContextResolver``: trust, public-service rule, cache and parsing, in one place.

Every adapter (ASGI, WSGI, Django) builds one resolver at start-up and calls
:meth:`ContextResolver.resolve` per request with the header values it found
and the peer address. Nothing here does I/O or raises to the caller.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from soajs.context.cache import ContextCache
from soajs.context.parser import ParseResult, parse_inject_header
from soajs.context.reasons import Reason, ReasonLog
from soajs.context.trust import TrustedGateways
from soajs.models.context import RegistrySource
from soajs.observability import counters as _metrics
from soajs.settings import Settings

__all__ = ["ContextResolver"]

_MISSING = ParseResult(None, Reason.MISSING)
_UNTRUSTED = ParseResult(None, Reason.UNTRUSTED)
_PUBLIC = ParseResult(None, Reason.PUBLIC_SERVICE)
_REWRITTEN = ParseResult(None, Reason.PROXY_REWRITTEN_PEER)
_COUNT = _metrics.REASON_INDEX  # HEADERS[_COUNT[reason]] (+ 1: served from the cache)
_I_UNTRUSTED = _COUNT[Reason.UNTRUSTED]
_I_PUBLIC = _COUNT[Reason.PUBLIC_SERVICE]
_I_REWRITTEN = _COUNT[Reason.PROXY_REWRITTEN_PEER]
_I_OK_CACHED = _COUNT[Reason.OK] + 1
#: the header counter of a context served from the cache (the adapters' fast path)
CACHED_OK_INDEX = _I_OK_CACHED
_IGNORED = frozenset({Reason.UNTRUSTED, Reason.PUBLIC_SERVICE, Reason.PROXY_REWRITTEN_PEER})


class ContextResolver:
    """Turns the header values of a request into a context (or ``None``) and a reason.

    Parameters
    ----------
    registry:
        The RegistryManager (or anything with a ``registry`` attribute) whose
        *current* registry contexts expose as ``context.registry``.
    trusted_gateways:
        IPs/CIDRs (list or comma-separated string, ``"*"`` = any) the header is
        believed from. Default: ``SOAJS_TRUSTED_GATEWAYS``; unset trusts any
        peer and logs one WARNING at start-up.
    trusted_proxy_hops:
        Reverse proxies between the gateway and this service that append to
        ``X-Forwarded-For`` (nginx realip / Envoy ``xff_num_trusted_hops``): the
        gateway is then the N-th entry from the right, and it, the transport
        peer and the entries between must all be in ``trusted_gateways``.
        Default ``SOAJS_TRUSTED_PROXY_HOPS`` (0: the transport peer is the gateway).
    public_service:
        ``True`` ignores the header entirely (a service registered with
        ``extKeyRequired: false``, to which the gateway passes a client's forged
        header unchanged). Default: from the registry's ``Config``.
    max_header_size, cache_size:
        Default ``SOAJS_MAX_INJECT_HEADER_SIZE`` (65536) and
        ``SOAJS_CONTEXT_CACHE_SIZE`` (1024; 0 disables the cache).
    cache_bytes:
        The memory the cached contexts may hold (each charged an upper bound
        of its parsed size, see :mod:`soajs.context.cache`). Default
        ``SOAJS_CONTEXT_CACHE_BYTES`` (32 MiB; 0 disables the cache).
    """

    def __init__(
        self,
        registry: RegistrySource | None = None,
        *,
        trusted_gateways: Iterable[str] | str | None = None,
        trusted_proxy_hops: int | None = None,
        public_service: bool | None = None,
        max_header_size: int | None = None,
        cache_size: int | None = None,
        cache_bytes: int | None = None,
        settings: Settings | None = None,
        log_interval: float = 60.0,
        component: str = "soajs middleware",
    ) -> None:
        base = settings if settings is not None else Settings.from_env()
        self.settings = base.override(
            trusted_gateways=trusted_gateways,
            max_inject_header_size=max_header_size,
            context_cache_size=cache_size,
            context_cache_bytes=cache_bytes,
            trusted_proxy_hops=trusted_proxy_hops,
        )
        self.registry = registry
        self.trust = TrustedGateways(self.settings.trusted_gateways)
        self.hops = self.settings.trusted_proxy_hops
        self.trust.warn_if_open(component)
        if public_service is None:
            config: Any = getattr(registry, "config", None)
            public_service = config is not None and not config.ext_key_required
        self.public_service = public_service
        #: The ASGI hot path may inline resolve()'s steps (its cache lookup) for one
        #: header: when any peer is trusted and the header is not ignored...
        self.inline_any = self.trust.any and not public_service
        #: ... or, when the peer must be listed, for a listed transport peer (no hops).
        self.inline_listed = not self.trust.any and not public_service and self.hops == 0
        self.max_size = self.settings.max_inject_header_size
        self.cache = ContextCache(
            self.settings.context_cache_size, self.settings.context_cache_bytes
        )
        self.log_reason = ReasonLog(log_interval)
        #: the process's header counts (None: metrics off), see soajs.observability
        self.counts = _metrics.HEADERS
        _metrics.resolvers.add(self)

    @property
    def checks_peer(self) -> bool:
        """True when the peer matters (``trusted_gateways`` restricts it)."""
        return not self.trust.any

    def resolve(
        self,
        values: list[bytes],
        peer: str | None,
        *,
        peer_rewritten: bool = False,
        proxies: tuple[str, ...] = (),
    ) -> ParseResult:
        """The context of one request; never raises.

        ``peer`` is the gateway's address: the transport peer's, or with
        ``trusted_proxy_hops`` the one the proxies (``proxies``, which must be
        trusted too) forwarded for; ``peer_rewritten`` says the server replaced
        the transport peer with one from the forwarding headers (then it is
        unknown and the header is refused, when ``trusted_gateways`` restricts
        the peers).
        """
        if not values:
            return _MISSING
        counts = self.counts
        if not self.trust.any:
            if peer_rewritten:
                self.log_reason(Reason.PROXY_REWRITTEN_PEER)
                if counts is not None:
                    counts[_I_REWRITTEN] += 1
                return _REWRITTEN
            is_trusted = self.trust.is_trusted
            if not is_trusted(peer) or (proxies and not all(map(is_trusted, proxies))):
                self.log_reason(Reason.UNTRUSTED)
                if counts is not None:
                    counts[_I_UNTRUSTED] += 1
                return _UNTRUSTED
        if self.public_service:
            self.log_reason(Reason.PUBLIC_SERVICE)
            if counts is not None:
                counts[_I_PUBLIC] += 1
            return _PUBLIC
        single = len(values) == 1
        if single:
            cached = self.cache.get(values[0])
            if cached is not None:
                if cached.context is None:
                    self.log_reason(cached.reason)
                    if counts is not None:
                        counts[_COUNT[cached.reason] + 1] += 1
                elif counts is not None:
                    counts[_I_OK_CACHED] += 1
                return cached
        return self.parse_and_store(values)

    def parse_and_store(self, values: list[bytes]) -> ParseResult:
        """Parse ``values`` (trusted, not a public service, and not in the cache),
        count and log the outcome, and cache it; never raises."""
        counts = self.counts
        single = len(values) == 1
        try:
            result = parse_inject_header(values, self.max_size)
        except Exception as exc:  # the core never raises; if it ever does, fail closed
            result = ParseResult(None, Reason.BAD_SHAPE, f"internal: {type(exc).__name__}")
        if result.context is not None:
            result.context.bind(self.registry, values[0])
        elif result.reason.is_error:
            self.log_reason(result.reason, result.detail)
        if counts is not None:
            counts[_COUNT[result.reason]] += 1
        if single and len(values[0]) <= self.max_size and self.cache.admits(values[0]):
            self.cache.put(values[0], result)
        return result

    def ignores_header(self, result: ParseResult) -> bool:
        """True when the app must not see the header at all (untrusted or rewritten
        peer, public service)."""
        return result.reason in _IGNORED
