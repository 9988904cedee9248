"""Where a call goes: request context (or registry awareness) -> :class:`Connection`.

Pure: no I/O, no framework. PROTOCOL.md, "Calling another service":

1. **Mesh.** An ``awareness.interConnect`` entry with that name and either
   the version asked, or (no version asked) ``version == latest``: call it
   directly and forward the original ``soajsinjectobj`` bytes unchanged.
2. **Gateway.** Otherwise ``http://{awareness.host}:{awareness.port}/{name}/v{version}``
   (``/{name}`` with no version), with the tenant's external key in header
   ``key`` and the caller's ``access_token`` or ``Authorization``; never the
   inject header. (The Go and Python reference middlewares drop the
   ``/{name}`` part; the gateway's URL parser shows they are wrong.)

Addresses are checked where routes are built: a port must be an integer in
1..65535 and a host must not hold URL delimiters (``/ ? # @ \\``). A mesh
entry that fails is skipped (the call goes through the gateway); a gateway
address that fails is no gateway (:class:`NoRouteError` says why). What the
transport still cannot use (a host IDNA cannot encode) is turned into
:class:`~soajs.connector.errors.InvalidCallError` when the call is made.

Contexts are immutable and shared between requests, so everything derived
from one (the interConnect index, the routes) is built once and kept in a
table keyed on the context object, dropped when the context is collected.
A warm :func:`route` is two dict look-ups.
"""

from __future__ import annotations

import functools
import re
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

import httpx

from soajs.connector.errors import NoRouteError, describe
from soajs.connector.propagation import Inbound
from soajs.context.parser import HEADER

if TYPE_CHECKING:
    from soajs.models.context import ContextData
    from soajs.models.registry import Awareness, InterConnect

__all__ = [
    "Connection",
    "Mode",
    "RouteTable",
    "address_problem",
    "normalize_version",
    "route_for_context",
]

Mode = Literal["mesh", "gateway"]
Pairs = tuple[tuple[bytes, bytes], ...]

INJECT_HEADER = HEADER
_KEY_HEADER = b"key"
_WHOLE = re.compile(r"^(\d+)(?:\.0+)?$")
_MAX_PORT = 65535
#: Characters that would end the host part of ``http://{host}:{port}/...``.
_DELIMITERS = frozenset("/?#@\\")


def _show(value: object) -> str:
    """``value`` for a message, never long (a port of 400 digits is not copied)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"a {value.bit_length()}-bit number"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def address_problem(what: str, host: object, port: object) -> str | None:
    """Why ``host``/``port`` (``what`` names them, e.g. ``awareness``) cannot be
    called, or ``None`` when they can."""
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port <= _MAX_PORT:
        return f"{what}.port {_show(port)} is not a port (1..{_MAX_PORT})"
    if not isinstance(host, str) or not host or not _DELIMITERS.isdisjoint(host):
        return f"{what}.host {_show(host)} is not a host name or address"
    return None


def normalize_version(version: object) -> str | None:
    """``1``, ``"1"``, ``"1.0"`` and ``"v1"`` are one version, ``"1"``; ``None`` stays ``None``."""
    if version is None:
        return None
    text = str(version).strip()
    if text[:1] in ("v", "V"):
        text = text[1:]
    if not text:
        return None
    match = _WHOLE.match(text)
    return match.group(1) if match else text


class Connection:
    """Where to send a call to one service, and with which headers.

    ``mode`` is ``"mesh"`` or ``"gateway"``; ``host`` is what the seed's
    ``f"http://{connection.host}/endpoint"`` needs (for the gateway it
    includes the ``/{name}/v{version}`` route); ``base_url`` is the same with
    the scheme; ``headers`` a fresh :class:`httpx.Headers` on each access
    (change it freely).
    ``fallback`` is the gateway route a mesh call fails over to, if any;
    ``target`` the ``host:port`` the circuit breaker watches.

    Treat it as read-only: it is cached and shared.
    """

    __slots__ = (
        "base_url",
        "breaker_label",
        "fallback",
        "host",
        "mode",
        "raw_headers",
        "service",
        "target",
        "version",
    )

    def __init__(
        self,
        *,
        mode: Mode,
        service: str,
        version: str | None,
        host: str,
        target: str,
        raw_headers: Pairs,
        fallback: Connection | None = None,
    ) -> None:
        self.mode: Mode = mode
        self.service = service
        self.version = version
        self.host = host
        self.base_url = "http://" + host
        self.target = target
        #: How logs and errors name the circuit breaker of ``target``.
        self.breaker_label = (
            f"mesh target {target} (service {service!r})" if mode == "mesh" else f"gateway {target}"
        )
        self.raw_headers = raw_headers
        self.fallback = fallback

    @property
    def headers(self) -> httpx.Headers:
        """The headers to send (a new object on every access)."""
        return httpx.Headers(list(self.raw_headers))

    def url(self, path: str = "/") -> str:
        """``base_url`` joined with ``path``."""
        if not path.startswith("/"):
            path = "/" + path
        return self.base_url + path

    def with_inbound(self, inbound: Inbound) -> Connection:
        """This route plus what the inbound request makes it carry (trace, credentials).

        Built once per request and route, then reused for the request's other calls.
        """
        routes = inbound.routes
        try:
            return routes[self]  # type: ignore[no-any-return]
        except KeyError:
            pass
        built = self._extend(inbound)
        routes[self] = built
        return built

    def _extend(self, inbound: Inbound) -> Connection:
        extra = inbound.mesh_pairs if self.mode == "mesh" else inbound.gateway_pairs
        fallback = self.fallback.with_inbound(inbound) if self.fallback is not None else None
        if not extra and fallback is self.fallback:
            return self
        return Connection(
            mode=self.mode,
            service=self.service,
            version=self.version,
            host=self.host,
            target=self.target,
            raw_headers=self.raw_headers + extra,
            fallback=fallback,
        )

    def __repr__(self) -> str:  # no headers: they hold the tenant key and the user
        fallback = f", fallback={self.fallback.host!r}" if self.fallback is not None else ""
        return f"Connection(mode={self.mode!r}, host={self.host!r}{fallback})"


class RouteTable:
    """Every route one context (or one awareness + tenant key) can produce, built lazily.

    Thread-safe: look-ups are plain dict reads; a miss builds the route and
    stores it (two threads may build the same route; both results are equal).
    """

    __slots__ = (
        "_gateway",
        "_gateway_problem",
        "_inject",
        "_key",
        "_latest",
        "_mesh",
        "_routes",
        "_skipped",
    )

    def __init__(
        self,
        *,
        inter_connect: Iterable[InterConnect] = (),
        gateway: tuple[str, int] | None = None,
        tenant_key: str | None = None,
        inject: bytes | None = None,
        gateway_problem: str | None = None,
    ) -> None:
        mesh: dict[tuple[str, str | None], InterConnect] = {}
        latest: dict[str, InterConnect] = {}
        #: How many interConnect entries had an unusable address, and the first reason.
        self._skipped: tuple[int, str] = (0, "")
        for entry in inter_connect:
            if not entry.name or not entry.host or entry.port is None:
                continue
            problem = address_problem("interConnect", entry.host, entry.port)
            if problem is not None:
                count, first = self._skipped
                self._skipped = (count + 1, first or f"{entry.name!r}: {problem}")
                continue
            version = normalize_version(entry.version)
            mesh.setdefault((entry.name, version), entry)
            if version is not None and version == normalize_version(entry.latest):
                latest.setdefault(entry.name, entry)
        self._mesh = mesh
        self._latest = latest
        self._gateway = gateway
        self._gateway_problem = gateway_problem
        self._key = tenant_key
        self._inject = inject
        self._routes: dict[tuple[str, object], Connection] = {}

    def route(self, name: str, version: object = None) -> Connection:
        """The :class:`Connection` for ``name`` (and ``version``); raises :class:`NoRouteError`."""
        try:
            return self._routes[(name, version)]
        except KeyError:
            pass
        built = self._build(name, normalize_version(version))
        self._routes[(name, version)] = built
        return built

    def _build(self, name: str, version: str | None) -> Connection:
        gateway = self._gateway_route(name, version)
        entry = self._latest.get(name) if version is None else self._mesh.get((name, version))
        if entry is not None and self._inject is not None:
            host = f"{entry.host}:{entry.port}"
            return Connection(
                mode="mesh",
                service=name,
                version=normalize_version(entry.version),
                host=host,
                target=host,
                raw_headers=((INJECT_HEADER, self._inject),),
                fallback=gateway,
            )
        if gateway is not None:
            return gateway
        raise NoRouteError(self._why_not(name, version), service=name, version=version)

    def _gateway_route(self, name: str, version: str | None) -> Connection | None:
        if self._gateway is None:
            return None
        target = f"{self._gateway[0]}:{self._gateway[1]}"
        path = f"/{name}/v{version}" if version is not None else f"/{name}"
        headers: Pairs = ()
        if self._key:
            headers = ((_KEY_HEADER, self._key.encode("latin-1", "replace")),)
        return Connection(
            mode="gateway",
            service=name,
            version=version,
            host=target + path,
            target=target,
            raw_headers=headers,
        )

    def _why_not(self, name: str, version: str | None) -> str:
        known = sorted(f"{n} v{v}" for n, v in self._mesh)
        mesh = (
            f"not in awareness.interConnect (it has: {', '.join(known)})"
            if known
            else "no awareness.interConnect entries"
        )
        if self._inject is None and known:
            mesh = "no soajsinjectobj to forward mesh-direct"
        skipped, first = self._skipped
        if skipped:
            mesh += f" ({skipped} entr{'y' if skipped == 1 else 'ies'} skipped: {first})"
        gateway = (
            f"the gateway address is unusable: {self._gateway_problem}"
            if self._gateway_problem
            else "no gateway address to go through"
        )
        return f"cannot call {describe(name, version)}: {mesh}, and {gateway}"


# -- one table per context ----------------------------------------------------

# No lock: a weakref callback runs in whichever thread the garbage collector
# happens to run in, possibly one inside this code; each step below is a single
# dict operation (atomic), and a race only builds an equal table twice.
_TABLES: dict[int, tuple[weakref.ref[ContextData], RouteTable]] = {}


def _awareness_gateway(awareness: Awareness | None) -> tuple[tuple[str, int] | None, str | None]:
    """The gateway's ``(host, port)``, or ``None`` and why (``None`` when it has none)."""
    if awareness is None or not awareness.host or awareness.port is None:
        return None, None
    problem = address_problem("awareness", awareness.host, awareness.port)
    if problem is not None:
        return None, problem
    return (awareness.host, int(awareness.port)), None


def table_for_context(context: ContextData) -> RouteTable:
    """The route table of ``context``: built on first use, then one dict look-up."""
    key = id(context)
    entry = _TABLES.get(key)
    if entry is not None and entry[0]() is context:
        return entry[1]
    awareness = context.awareness
    gateway, problem = _awareness_gateway(awareness)
    table = RouteTable(
        inter_connect=(awareness.inter_connect or ()) if awareness is not None else (),
        gateway=gateway,
        gateway_problem=problem,
        tenant_key=context.tenant.key.e_key,
        inject=context.raw_header,
    )
    _TABLES[key] = (weakref.ref(context, functools.partial(_forget, key)), table)
    return table


def _forget(key: int, ref: weakref.ref[ContextData]) -> None:
    entry = _TABLES.get(key)
    if entry is not None and entry[0] is ref:
        _TABLES.pop(key, None)


def route_for_context(context: ContextData, name: str, version: object = None) -> Connection:
    """Route a call made while handling the request ``context`` belongs to."""
    return table_for_context(context).route(name, version)


def gateway_table(awareness: Awareness | None, tenant_key: str) -> RouteTable | None:
    """A gateway-only table (background jobs): ``None`` when ``awareness`` has no
    address; one whose routes raise :class:`NoRouteError` when it is unusable."""
    gateway, problem = _awareness_gateway(awareness)
    if gateway is None and problem is None:
        return None
    return RouteTable(gateway=gateway, tenant_key=tenant_key, gateway_problem=problem)
