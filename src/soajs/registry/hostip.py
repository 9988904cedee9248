"""The host's IP, found as the Node framework finds it (``core.getHostIp``).

Order: ``SOAJS_SRVIP`` (the caller passes it); else the IPv4 address of the
first interface among ``eth0``, ``en0``, ``eth1``, ``en1``; else any other
external (non-loopback) IPv4 address; else ``None`` (the caller advertises
127.0.0.1 and logs a WARNING). Standard library only: ``socket.if_nameindex``
and the ``SIOCGIFADDR`` ioctl on Linux; elsewhere (or when the ioctl is
refused) the address a UDP socket would use to reach a public address
(nothing is sent). Bounded: at most :data:`MAX_INTERFACES` interfaces are
looked at, and nothing here waits on the network.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import sys
from collections.abc import Callable, Iterable

__all__ = ["MAX_INTERFACES", "PREFERRED", "detect_host_ip", "interface_addresses"]

#: Interfaces tried first, in this order (Node's ``getHostIp``).
PREFERRED = ("eth0", "en0", "eth1", "en1")
#: Interfaces looked at, at most (a host with thousands of veths stays fast).
MAX_INTERFACES = 256
_SIOCGIFADDR = 0x8915


def _ioctl_ipv4(name: str) -> str | None:
    """The IPv4 address of interface ``name`` (Linux), or None."""
    if not sys.platform.startswith("linux"):
        return None
    import fcntl

    raw = name.encode()[:15]
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            packed = fcntl.ioctl(sock.fileno(), _SIOCGIFADDR, struct.pack("256s", raw))
    except OSError:
        return None  # no such interface, or no IPv4 address on it
    return socket.inet_ntoa(packed[20:24])


def interface_addresses() -> list[tuple[str, str]]:
    """``(interface, IPv4)`` of this host's interfaces (at most :data:`MAX_INTERFACES`)."""
    try:
        names = [name for _, name in socket.if_nameindex()][:MAX_INTERFACES]
    except OSError:
        names = []
    out = []
    for name in names:
        ip = _ioctl_ipv4(name)
        if ip is not None:
            out.append((name, ip))
    return out


def _external(ip: str) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return address.version == 4 and not (
        address.is_loopback or address.is_unspecified or address.is_link_local
    )


def _routed_ipv4() -> str | None:
    """The source address of a route to a public IPv4 address (no packet is sent)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect(("192.0.2.1", 9))  # TEST-NET-1: connect() on UDP sends nothing
            ip = str(sock.getsockname()[0])
    except OSError:
        return None
    return ip if _external(ip) else None


def detect_host_ip(
    addresses: Callable[[], Iterable[tuple[str, str]]] = interface_addresses,
) -> tuple[str | None, str]:
    """``(ip, where it came from)``; ``ip`` is None when no external IPv4 was found."""
    found = [(name, ip) for name, ip in addresses() if _external(ip)]
    by_name = dict(found)
    for name in PREFERRED:
        if name in by_name:
            return by_name[name], f"interface {name}"
    if found:
        name, ip = found[0]
        return ip, f"interface {name}"
    routed = _routed_ipv4() if addresses is interface_addresses else None
    if routed is not None:
        return routed, "the default route"
    return None, "no external IPv4 interface"
