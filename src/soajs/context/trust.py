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
* a peer that may have been rewritten otherwise (:func:`peer_was_rewritten`)
  cannot be judged: the header is refused (``proxy_rewritten_peer``), with a
  WARNING saying which setting to change. When any forwarding header is
  present, that is a peer whose host any of their entries names (all entries
  are read, in any form: brackets, any port suffix, IPv4-mapped IPv6), or whose
  port no TCP peer has (uvicorn gives 0 for a rewritten client). Detection
  does not mirror one server's parser: servers disagree on ports (uvicorn's
  ``int()`` reads ``+80`` and ``8_0``) and on which entry they use;
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
import socket
from collections.abc import Iterable, Iterator
from functools import lru_cache

__all__ = [
    "FORWARDED_ENVIRON_KEY",
    "FORWARDING_HEADERS",
    "XFF_ENVIRON_KEYS",
    "TrustedGateways",
    "forwarded_hosts",
    "hop_chain",
    "peer_was_rewritten",
]

#: The request headers that servers and middlewares rewrite the peer from
#: (lower-case, as ASGI names them).
FORWARDING_HEADERS = (b"x-forwarded-for", b"forwarded", b"x-real-ip")

#: The same as WSGI environ keys: those with a list of addresses, and RFC 7239's.
XFF_ENVIRON_KEYS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP")
FORWARDED_ENVIRON_KEY = "HTTP_FORWARDED"

_MAX_PORT = 65535

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


def _host(token: str) -> str:
    """The host an ``X-Forwarded-For`` / ``Forwarded`` entry names, read leniently:
    quotes, brackets, a zone and any port suffix (whatever its syntax) removed,
    lower-case. Servers differ on the port (uvicorn's ``int()`` takes ``+80``,
    ``8_0``, `` 80``), never on where the host ends."""
    token = token.strip().strip('"').strip()
    if token.startswith("["):
        host = token[1:].partition("]")[0]
    elif token.count(":") == 1:
        host = token.partition(":")[0]
    else:
        host = token
    return host.partition("%")[0].strip().lower()


def _normal(host: str) -> str:
    host = host.strip().lower()
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return str(address)


#: ``_normal`` of peers, which repeat (the gateways'); never of long strings.
_normal_cached = lru_cache(maxsize=1024)(_normal)


def _peer_normal(host: str) -> str:
    return _normal_cached(host) if len(host) <= 64 else _normal(host)


def _packed6(host: str) -> bytes | None:
    """``host`` as 16 bytes (an IPv4 address as its IPv4-mapped IPv6 one), or None.

    Text that cannot be an IPv6 address (one holds ``::``, or seven colons, six
    before a dotted IPv4 part) is not
    tried as one: hostile headers make this run per entry, and a failed parse
    raises, which costs more than the check."""
    try:
        if ":" not in host:
            return _MAPPED_PREFIX + socket.inet_pton(socket.AF_INET, host)
        if "::" in host or host.count(":") == (6 if "." in host else 7):
            return socket.inet_pton(socket.AF_INET6, host)
    except (OSError, ValueError):
        pass
    return None


_MAPPED_PREFIX = bytes(10) + b"\xff\xff"


def forwarded_hosts(xff: Iterable[str], forwarded: Iterable[str] = ()) -> Iterator[str]:
    """Every host named by ``X-Forwarded-For`` / ``X-Real-IP`` values (``xff``) and
    RFC 7239 ``Forwarded`` values (their ``for=``), in order, read by :func:`_host`.

    All of them: a server may use any entry (uvicorn the rightmost it does not
    trust, or the first), so none may be left unread. Linear in the headers'
    size, which the server caps."""
    for value in xff:
        for token in value.split(","):
            yield _host(token)
    for value in forwarded:
        for element in value.split(","):
            for pair in element.split(";"):
                name, _, address = pair.partition("=")
                if name.strip().lower() == "for":
                    yield _host(address)


def peer_was_rewritten(
    host: str | None, port: int | None, xff: Iterable[str], forwarded: Iterable[str] = ()
) -> bool:
    """True when the server may have taken the peer from the forwarding headers.

    Called only when such a header is present, it is conservative rather than a
    mirror of one server's parser: the peer counts as rewritten when its host
    appears as the host of **any** entry (brackets, zone and any port suffix
    ignored, IPv4-mapped IPv6 equal to its IPv4, case-insensitive), or when its
    port (``None`` when the server gives none, as WSGI) is one no TCP peer has
    (uvicorn gives 0 for a rewritten client the header named no port for, and
    any integer its ``int()`` reads otherwise).
    """
    if not host:
        return False
    if port is not None and not (isinstance(port, int) and 0 < port <= _MAX_PORT):
        return True
    raw = host.partition("%")[0].strip().lower()
    if raw.startswith("[") and raw.endswith("]"):
        raw = raw[1:-1]
    normal = _peer_normal(raw)
    xff, forwarded = list(xff), list(forwarded)
    if ":" not in normal and not any(
        normal in text or "ffff" in text for text in map(str.lower, (*xff, *forwarded))
    ):
        # An IPv4 peer (or a name) is named only by its own text, or by an
        # IPv4-mapped IPv6 form, and every form of those holds "ffff": a C-speed
        # scan settles the common case (a client's own X-Forwarded-For).
        return False
    packed: bytes | bool | None = False  # computed on first need
    for entry in forwarded_hosts(xff, forwarded):
        if entry in (raw, normal):
            return True
        if not entry or ":" not in entry:
            continue  # an IPv4 address has one text form: compared above
        if packed is False:
            packed = _packed6(normal)
        if packed is None:
            continue
        # an unbracketed IPv6 may end with a port, as some write it
        if _packed6(entry) == packed or _packed6(entry.rpartition(":")[0]) == packed:
            return True
    return False


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
    entries = [_normal(host) for token in tail if (host := _host(token))]
    if len(entries) < hops or transport is None:
        return None, ()
    nearest = entries[len(entries) - hops + 1 :]
    return entries[-hops], (transport, *nearest)
