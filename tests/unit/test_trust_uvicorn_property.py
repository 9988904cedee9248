"""Property: whatever peer uvicorn's own ProxyHeadersMiddleware makes of the
forwarding headers, a peer it took from them is detected as rewritten.

uvicorn's real middleware (its defaults: ``forwarded_allow_ips`` 127.0.0.1)
runs on generated ``X-Forwarded-For`` values: many entries, odd port syntaxes
(``+80``, ``-1``, ``8_0``, spaces, huge), brackets, IPv4-mapped IPv6 forms,
split across several headers. The real-server version of this is
tests/integration/test_peer_trust_forms.py.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from soajs.context.trust import TrustedGateways, peer_was_rewritten

TRUST = TrustedGateways(["10.0.0.0/8", "2001:db8::/32"])

HOSTS = st.sampled_from(
    ["10.0.0.5", "[10.0.0.5]", "::ffff:10.0.0.5", "[::ffff:10.0.0.5]", "[::FFFF:a00:5]",
     "2001:db8::1", "[2001:DB8:0:0::1]", "198.51.100.7", "[::1]", "garbage", "",
     "0:0:0:0:0:ffff:10.0.0.5", "[2001:db8:0:0:0:0:0:1]"]
)  # fmt: skip
PORTS = st.one_of(
    st.none(),
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(
        ["+80", "-1", "8_0", " 80", "80 ", "0", "00080", "+0", "1_2_3", "", "x", "\t8"]
    ),
)
ENTRIES = st.tuples(HOSTS, PORTS).map(lambda t: t[0] if t[1] is None else f"{t[0]}:{t[1]}")


def uvicorn_client(values: list[str]) -> Any:
    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen["client"] = scope["client"]

    scope = {
        "type": "http",
        "client": ("127.0.0.1", 50123),
        "headers": [(b"x-forwarded-for", v.encode("latin-1")) for v in values],
    }
    asyncio.run(ProxyHeadersMiddleware(app)(scope, None, None))  # type: ignore[arg-type]
    return seen["client"]


@settings(max_examples=400, deadline=None)
@given(
    entries=st.lists(ENTRIES, min_size=1, max_size=150),
    junk=st.integers(0, 300),
    cuts=st.lists(st.integers(0, 450), max_size=3),
)
def test_a_trusted_peer_uvicorn_took_from_the_headers_is_detected(
    entries: list[str], junk: int, cuts: list[int]
) -> None:
    entries = ["198.51.100.9"] * junk + entries
    bounds = sorted({0, len(entries), *(min(c, len(entries)) for c in cuts)})
    values = [", ".join(entries[a:b]) for a, b in itertools.pairwise(bounds)]
    host, port = uvicorn_client(values)
    if (host, port) == ("127.0.0.1", 50123):
        return  # uvicorn kept the transport peer
    if TRUST.is_trusted(host):
        assert peer_was_rewritten(host, port, values), (host, port, values)
