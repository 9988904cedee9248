"""Name resolution of the control plane under the exchange's deadline.

Before (red team, issue 11): ``getaddrinfo`` ran outside the deadline; with a
resolver that takes 15 s (an unreachable nameserver) and
``SOAJS_REGISTRY_TIMEOUT=2``, a start took 15 s and said "no answer within
2s (WriteTimeout)". Now the name is resolved in a short-lived daemon thread
joined with what is left of the deadline (at most one such thread per client
at a time), and the error says what took how long.

The resolver is the only thing faked (``socket.getaddrinfo`` made slow for
one name); the control plane is a real HTTP server on loopback.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from soajs import RegistryManager
from soajs.errors import RegistryTimeoutError
from tests.integration.faulty_plane import FaultyPlane, elapsed

NAME = "control-plane.slow-dns.test"


@pytest.fixture
def slow_resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    real = socket.getaddrinfo
    state: dict[str, Any] = {"slow": True, "release": threading.Event(), "calls": 0}

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == NAME:
            state["calls"] += 1
            if state["slow"]:
                state["release"].wait(15)  # a resolver whose nameserver does not answer
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield state
    state["release"].set()


def _resolvers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("soajs-resolve")]


def test_a_slow_resolver_is_cut_at_the_deadline_with_a_true_message(
    slow_resolver: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOAJS_ENV", "dev")
    with FaultyPlane("ok") as plane:
        api = f"{NAME}:{plane.port}"
        start = time.monotonic()
        with pytest.raises(RegistryTimeoutError) as caught:
            RegistryManager("hello", registry_api=api, timeout=1, broadcast=False)
        took = elapsed(start)
        message = str(caught.value)
        print(f"start failed after {took:.2f}s: {message}")
        assert took < 3.0  # within 3x the 1 s deadline (was: the resolver's 15 s)
        assert "resolving" in message and NAME in message
        assert "WriteTimeout" not in message

        # a storm of attempts keeps at most one resolver thread waiting per manager
        before = len(_resolvers())  # the failed manager's, still waiting on getaddrinfo
        assert before <= 1
        manager = RegistryManager(
            "hello", registry_api=api, timeout=0.3, broadcast=False, start_degraded=True
        )
        try:
            for _ in range(5):
                with pytest.raises(RegistryTimeoutError):
                    manager.reload(timeout=5)
            assert len(_resolvers()) <= before + 1, _resolvers()
            # the resolver answers again: the manager loads
            slow_resolver["slow"] = False
            slow_resolver["release"].set()
            manager.reload(timeout=5)
            assert manager.is_ready
        finally:
            manager.stop()
    assert slow_resolver["calls"] <= 3  # one resolution at a time, whatever the attempts
