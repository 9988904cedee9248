"""The connector still sends the real keys once they print masked.

Red-team finding 6 (issue 12) masked ``str()`` and ``format()`` of the
context's iKey and eKey (:class:`~soajs.models.SecretText`). The connector sends
them by what a ``str`` subclass cannot mask (``encode``, the raw header bytes):
a mesh call carries the exact ``soajsinjectobj`` the service received (iKey and
eKey in it), a gateway call the tenant's eKey as ``key``; real calls to
loopback servers.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from soajs.models._base import MASK
from tests.connector.conftest import E_KEY, awareness, inject_object, make_context
from tests.connector.loopback import Loopback
from tests.connector.twins import KINDS, caller

Servers = Callable[..., Loopback]


@pytest.mark.parametrize("kind", KINDS)
def test_a_mesh_call_carries_the_real_inject_header(servers: Servers, kind: str) -> None:
    callee = servers("b")
    context = make_context(awareness(None, ("b", "1", callee.address, "1")))
    assert str(context.tenant.key.e_key) == MASK and f"{context.tenant.key.i_key}" == MASK
    caller(kind, context)("b", "/x", version="1")
    (seen,) = callee.requests
    sent = json.loads(seen.headers["soajsinjectobj"].encode("latin-1"))
    assert sent["key"]["iKey"] == "ikey" and sent["key"]["eKey"] == E_KEY
    assert sent == inject_object(awareness(None, ("b", "1", callee.address, "1")))
    assert MASK not in seen.headers["soajsinjectobj"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_gateway_call_carries_the_real_key(servers: Servers, kind: str) -> None:
    gateway = servers("gateway")
    context = make_context(awareness(gateway.address))
    assert str(context.tenant.key.e_key) == MASK
    caller(kind, context)("b", "/x")
    (seen,) = gateway.requests
    assert seen.headers["key"] == E_KEY
