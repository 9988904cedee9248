"""Where the maintenance listener binds, and who holds its port when it cannot.

* :func:`server_address`: the address this process's own HTTP server listens
  on for a port, read from the process's open listening sockets (the server
  binds ``127.0.0.1``, ``::1``, ``0.0.0.0``...: the listener binds the same).
* :func:`bind`: a listening socket with a normal backlog; IPv6 addresses too.
* :func:`describe_holder`: when the port is taken, what is true about who has
  it: another listener of this process, a sibling worker of this service,
  another SOAJS service, another program, or a process that does not answer.
"""

from __future__ import annotations

import asyncio
import os
import socket

from soajs.errors import ConfigurationError

__all__ = [
    "LISTENER_HEADER",
    "ask_port",
    "bind",
    "check_port",
    "describe_holder",
    "identity",
    "server_address",
]

#: Response header of the maintenance listener: ``service; pid=N; ppid=M``.
LISTENER_HEADER = "X-SOAJS-Listener"

_WILDCARDS = ("0.0.0.0", "::", "")


def check_port(port: object, what: str) -> int:
    """``port`` if it is a TCP port (1-65535), else a ConfigurationError saying why."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ConfigurationError(f"{what} must be a TCP port between 1 and 65535, got {port!r}")
    return port


def identity(service: str) -> str:
    """What the listener says about itself, so a sibling can tell who holds a port."""
    return f"{service}; pid={os.getpid()}; ppid={os.getppid()}"


def server_address(port: int, exclude: socket.socket | None = None) -> str | None:
    """The address of this process's listening TCP socket on ``port``, if it has one.

    A wildcard (``0.0.0.0``/``::``) wins over a specific address when both are bound.
    """
    fd_dir = "/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"
    skip = exclude.fileno() if exclude is not None else -1
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return None
    found: list[str] = []
    for name in names:
        try:
            fd = int(name)
        except ValueError:
            continue
        if fd == skip:
            continue
        try:
            sock = socket.socket(fileno=fd)
        except OSError:
            continue  # not a socket (or already closed)
        try:
            if sock.type != socket.SOCK_STREAM or sock.family not in (
                socket.AF_INET,
                socket.AF_INET6,
            ):
                continue
            if not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
                continue
            host, bound_port = sock.getsockname()[:2]
            if bound_port == port:
                found.append(host)
        except OSError:
            continue
        finally:
            sock.detach()  # the fd belongs to its owner: never close it
    for host in found:
        if host in _WILDCARDS:
            return str(host)
    return str(found[0]) if found else None


def bind(host: str, port: int, backlog: int) -> socket.socket:
    """A listening socket on ``host:port`` (IPv4 or IPv6 address, or a host name)."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT after a restart
        if family == socket.AF_INET6 and host == "::":
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # IPv4 too
        sock.bind(address)
        sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


async def ask_port(host: str, port: int, deadline: float = 1.0) -> bytes | None:
    """The head of the answer to ``GET /heartbeat`` on ``host:port`` (a wildcard: loopback).

    ``b""``: refused or reset; ``None``: no answer within ``deadline`` seconds.
    """
    if host in _WILDCARDS:
        host = "::1" if ":" in host else "127.0.0.1"
    writer = None
    try:
        async with asyncio.timeout(deadline):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(b"GET /heartbeat HTTP/1.0\r\nHost: soajs\r\n\r\n")
            await writer.drain()
            return await reader.read(8192)
    except TimeoutError:
        return None
    except OSError:
        return b""
    finally:
        if writer is not None:
            writer.transport.abort()


def describe_holder(answer: bytes | None, service: str, deadline: float = 1.0) -> tuple[str, bool]:
    """Who holds a port, from :func:`ask_port`'s answer: ``(what is true, a sibling worker?)``.

    The maintenance listener of this library names itself in :data:`LISTENER_HEADER`.
    """
    if answer is None:
        return (
            "a process holds it but does not answer within "
            f"{deadline:g}s (a stopped or busy worker of this service, or another program)",
            False,
        )
    if answer == b"":
        return "another program holds it (on another address of this host?)", False
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    marker = LISTENER_HEADER.lower() + ":"
    for line in head.split("\r\n")[1:]:
        if not line.lower().startswith(marker):
            continue
        value = line[len(marker) :].strip()
        name, _, rest = value.partition(";")
        fields = dict(p.strip().partition("=")[::2] for p in rest.split(";") if "=" in p)
        name = name.strip()
        pid, ppid = fields.get("pid", "?"), fields.get("ppid", "?")
        if name != service:
            return (
                f"the maintenance listener of another SOAJS service, {name!r} (pid {pid}), "
                "holds it: two services share this port (check the service ports and "
                "maintenanceInc)",
                False,
            )
        if ppid == str(os.getppid()) or pid == str(os.getppid()):
            return f"another worker of this service (pid {pid}) holds it", True
        return (
            f"another instance of {service!r} (pid {pid}, not a worker of this server) "
            "holds it: is the service started twice on this host?",
            False,
        )
    return "another program holds it (it answers HTTP, but not as a SOAJS listener)", False
