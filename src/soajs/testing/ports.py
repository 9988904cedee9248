"""Ports and a service ``Config`` for tests that run the real maintenance listener.

``Config(port=0)`` is refused (the gateway needs the real port), and a
middleware given a registry with a ``Config`` binds port + ``maintenanceInc``
(usually 1000) for the gateway's health checks. A test either turns that off
(``maintenance_listener=False``, see the Testing page) or gives the service a
port whose maintenance port is free too: ``free_port_pair``.
"""

from __future__ import annotations

import socket
from typing import Any

from soajs.config import Config

__all__ = ["free_port", "free_port_pair", "make_config"]

#: Tries of ``free_port_pair`` before it gives up (each binds two sockets).
MAX_TRIES = 50


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now (the OS picks it)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def free_port_pair(maintenance_inc: int = 1000, host: str = "127.0.0.1") -> int:
    """A port ``p`` such that ``p`` and ``p + maintenance_inc`` are both free right now.

    Raises ``OSError`` after ``MAX_TRIES`` attempts.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(MAX_TRIES):
        port = free_port(host)
        if not 0 < port + maintenance_inc < 65536:
            continue
        with socket.socket(family) as other:
            try:
                other.bind((host, port + maintenance_inc))
            except OSError:
                continue
        return port
    raise OSError(f"no free port pair {maintenance_inc} apart on {host}")


def make_config(**fields: Any) -> Config:
    """A valid service ``Config`` for tests: name ``hello``, group ``Tests``, version ``1``,
    and a port whose maintenance port (+1000) is free (``port=`` to choose it)."""
    values: dict[str, Any] = {"name": "hello", "group": "Tests", "version": "1"}
    values.update(fields)
    if "port" not in values:
        values["port"] = free_port_pair()
    return Config(**values)
