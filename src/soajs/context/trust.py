"""Which peers the ``soajsinjectobj`` header is believed from.

The header is an identity assertion: whoever can reach the service directly
can forge it, and a gateway passes a client's own header through unchanged to
a public service. Believing it from any peer is therefore a security issue;
list the gateways' addresses or networks (``SOAJS_TRUSTED_GATEWAYS``) so a
header from anywhere else is ignored and removed before the app sees it.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from functools import lru_cache

__all__ = ["TrustedGateways"]

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
