"""Which peers the ``soajsinjectobj`` header is believed from.

The header is an identity assertion: whoever can reach the service directly
can forge it, and a gateway passes a client's own header through unchanged to
a public service. Believing it from any peer is therefore a security issue;
list the gateways' addresses or networks (``SOAJS_TRUSTED_GATEWAYS``) so a
header from anywhere else is ignored and removed before the app sees it.

Trust is decided on the **transport peer**: the address the TCP connection
comes from. Servers can be told to replace it with what a request's
``X-Forwarded-For`` says (uvicorn's ``--proxy-headers``, on by default for
``--forwarded-allow-ips``, 127.0.0.1 by default; werkzeug's ``ProxyFix``);
then any local process could name its own "peer". So:

* behind werkzeug's ``ProxyFix`` the original ``REMOTE_ADDR`` it keeps
  (``environ["werkzeug.proxy_fix.orig"]``) is the peer;
* a peer that was rewritten otherwise (:func:`peer_was_rewritten`: the
  reported peer is one of the addresses the forwarding headers name, with
  their port, and a real TCP peer never has port 0 as uvicorn's rewrite
  does) cannot be judged: the header is refused
  (``proxy_rewritten_peer``), with a WARNING saying which setting to change;
* reverse proxies between the gateway and the service are supported
  explicitly, as nginx's realip or Envoy's ``xff_num_trusted_hops`` do:
  with ``trusted_proxy_hops = N`` the gateway is ``X-Forwarded-For``'s N-th
  entry from the right, and it, the transport peer and the entries between
  them must all be trusted (:func:`hop_chain`).

The real gateway (soajs.controller 4.3.x) adds no ``X-Forwarded-For``: it
passes on the client's own headers, so a rewrite of its requests is always
the client's doing.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from functools import lru_cache

__all__ = [
    "FORWARDED_ENVIRON_KEY",
    "FORWARDING_HEADERS",
    "XFF_ENVIRON_KEYS",
    "TrustedGateways",
    "forwarded_addresses",
    "hop_chain",
    "peer_was_rewritten",
]

#: The request headers that servers and middlewares rewrite the peer from
#: (lower-case, as ASGI names them).
FORWARDING_HEADERS = (b"x-forwarded-for", b"forwarded", b"x-real-ip")

#: The same as WSGI environ keys: those with a list of addresses, and RFC 7239's.
XFF_ENVIRON_KEYS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP")
FORWARDED_ENVIRON_KEY = "HTTP_FORWARDED"

#: At most this many addresses are read from the forwarding headers of a request.
_MAX_ADDRESSES = 64

logger = logging.getLogger("soajs.context")

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedGateways:
    """A set of IPs/CIDRs, or any peer (``*`` or unset).

    ``TrustedGateways(None)`` trusts any peer and logs one WARNING saying how
    to restrict it; ``TrustedGateways(["*"])`` trusts any peer on purpose,
    silently. Lookups are cached per peer address.
    """

    def __init__(self, entries: Iterable[str] | None) -> None:
        items = [e.strip() for e in entries] if entries is not None else None
        self.any = items is None or "*" in items
        self.explicit = items is not None
        self.networks: tuple[_Network, ...] = tuple(
            ipaddress.ip_network(item, strict=False) for item in items or () if item != "*"
        )
        self.is_trusted = lru_cache(maxsize=4096)(self._check)

    def warn_if_open(self, component: str) -> None:
        """Log, once at start-up, that every peer is trusted when nothing was configured."""
        if not self.explicit:
            logger.warning(
                "%s trusts soajsinjectobj from ANY peer: anyone who can reach this service "
                "directly can forge a tenant. Set SOAJS_TRUSTED_GATEWAYS (or "
                "trusted_gateways=...) to the gateway IPs/CIDRs, e.g. '10.0.0.0/8', "
                "or '*' to trust any peer on purpose.",
                component,
            )

    def _check(self, peer: str | None) -> bool:
        if self.any:
            return True
        if not peer:
            return False
        try:
            address = ipaddress.ip_address(peer.split("%", 1)[0])
        except ValueError:
            return False  # a unix socket path or garbage: not a listed gateway
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)

    def __repr__(self) -> str:
        if self.any:
            return "TrustedGateways(any)"
        return f"TrustedGateways({', '.join(map(str, self.networks))})"


def _host_port(token: str) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]``, ``[v6]:port`` or a bare IPv6 -> (host, port or 0)."""
    token = token.strip().strip('"').strip()
    host, port = token, ""
    if token.startswith("["):
        host, _, rest = token[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif token.count(":") == 1:
        host, _, port = token.partition(":")
    return _normal(host), int(port) if port.isascii() and port.isdigit() else 0


def _normal(host: str) -> str:
    host = host.strip().lower()
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return str(address)


def forwarded_addresses(xff: Iterable[str], forwarded: Iterable[str] = ()) -> set[tuple[str, int]]:
    """The ``(host, port)`` pairs named by ``X-Forwarded-For`` / ``X-Real-IP`` values
    (``xff``) and RFC 7239 ``Forwarded`` values (their ``for=``); port 0 when none.
    At most 64 are read."""
    tokens: list[str] = []
    for value in xff:
        tokens.extend(value.split(",", _MAX_ADDRESSES))
    for value in forwarded:
        for element in value.split(",", _MAX_ADDRESSES):
            for pair in element.split(";"):
                name, _, address = pair.partition("=")
                if name.strip().lower() == "for":
                    tokens.append(address)
    return {_host_port(token) for token in tokens[:_MAX_ADDRESSES] if token.strip()}


def peer_was_rewritten(
    host: str | None, port: int | None, xff: Iterable[str], forwarded: Iterable[str] = ()
) -> bool:
    """True when the peer ``host`` (and ``port``, ``None`` when the server gives
    none, as WSGI) is one the forwarding headers name: the server took it from
    them. A TCP peer always has a port, so with a port the match must include
    it (uvicorn's rewrite gives port 0 unless the header named one)."""
    if not host:
        return False
    addresses = forwarded_addresses(xff, forwarded)
    if not addresses:
        return False
    host = _normal(host)
    if port is None:
        return any(h == host for h, _ in addresses)
    return (host, port) in addresses


def hop_chain(
    transport: str | None, xff: Iterable[str], hops: int
) -> tuple[str | None, tuple[str, ...]]:
    """With ``hops`` trusted reverse proxies between the gateway and this service
    (each appending to ``X-Forwarded-For`` the address it got the request from):
    the gateway's address, ``X-Forwarded-For``'s ``hops``-th entry from the
    right, and the proxies' (the transport peer and the entries right of the
    gateway's), which must all be trusted too. ``(None, ())`` when the header
    has fewer entries than hops: the request did not come through them.
    With ``hops == 0``: the transport peer, and no proxies.
    """
    if hops <= 0:
        return transport, ()
    # only the last ``hops`` entries matter: never split a long header further
    tail = ",".join(xff).rsplit(",", hops)[-hops:]
    entries = [_host_port(token)[0] for token in tail if token.strip()]
    if len(entries) < hops or transport is None:
        return None, ()
    nearest = entries[len(entries) - hops + 1 :]
    return entries[-hops], (transport, *nearest)
