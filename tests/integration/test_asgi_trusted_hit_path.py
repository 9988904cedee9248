"""The ASGI cache-hit path with a restricted ``trusted_gateways`` list, under real uvicorn.

The inlined path serves one header from a listed peer that came with no
forwarding header; everything else goes the long way. A header cached from
the gateway must still be refused from any other peer, and from a peer the
server may have rewritten from ``X-Forwarded-For`` (uvicorn trusts proxy
headers from 127.0.0.1 by default), however often it was served before.
The client picks its source address on loopback: 127.0.0.2 is the gateway.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from starlette.applications import Starlette
from starlette.routing import Route

from soajs.middleware import SOAJSMiddleware
from soajs.testing.headers import make_inject_header
from tests.integration.servers import uvicorn_server
from tests.integration.test_asgi_cache_hit_path import show
from tests.observability.test_exposition import header_key, parse

GATEWAY = "127.0.0.2"


@contextmanager
def clients() -> Iterator[tuple[str, httpx.Client, httpx.Client]]:
    """The service's base URL, a client from the gateway and one from elsewhere."""
    app = SOAJSMiddleware(
        Starlette(routes=[Route("/", show)]),
        trusted_gateways=GATEWAY,
        health=False,
        metrics_on_service_port=True,
    )
    gateway = httpx.Client(timeout=10, transport=httpx.HTTPTransport(local_address=GATEWAY))
    other = httpx.Client(timeout=10, transport=httpx.HTTPTransport(local_address="127.0.0.1"))
    with uvicorn_server(app) as served, gateway, other:
        yield f"http://127.0.0.1:{served.port}/", gateway, other


def test_a_header_cached_from_the_gateway_is_refused_from_any_other_peer() -> None:
    good = make_inject_header()
    tenant = json.loads(good)["tenant"]["code"]
    with clients() as (url, gateway, other):
        before = parse(gateway.get(url + "metrics").text)
        for _ in range(3):
            assert gateway.get(url, headers={"soajsinjectobj": good}).json()["tenant"] == tenant
        for _ in range(2):  # the same bytes, cached: refused, and removed from the request
            answer = other.get(url, headers={"soajsinjectobj": good}).json()
            assert answer == {"tenant": None, "same": True, "header_seen": False}
        after = parse(gateway.get(url + "metrics").text)
    hits = ("soajs_context_cache_hits_total", (("reason", "ok"),))
    assert after.get(hits, 0) - before.get(hits, 0) == 2
    untrusted = header_key("ignored", "untrusted_peer")
    assert after.get(untrusted, 0) - before.get(untrusted, 0) == 2


def test_a_forwarding_header_sends_a_cached_header_the_long_way() -> None:
    good = make_inject_header()
    tenant = json.loads(good)["tenant"]["code"]
    with clients() as (url, gateway, other):
        assert gateway.get(url, headers={"soajsinjectobj": good}).json()["tenant"] == tenant
        # 127.0.0.1 is a proxy uvicorn believes: it rewrites the client to the
        # gateway's address, which the middleware must not believe
        spoof = {"soajsinjectobj": good, "x-forwarded-for": GATEWAY}
        assert other.get(url, headers=spoof).json()["tenant"] is None
        for name in ("forwarded", "x-real-ip"):
            forged = {
                "soajsinjectobj": good,
                name: f"for={GATEWAY}" if name == "forwarded" else GATEWAY,
            }
            assert other.get(url, headers=forged).json()["tenant"] is None
        # from the gateway itself, naming another client: not a rewrite, believed
        named = {"soajsinjectobj": good, "x-forwarded-for": "10.9.8.7"}
        assert gateway.get(url, headers=named).json()["tenant"] == tenant
        # naming itself: the peer may have been rewritten, refused as before
        itself = {"soajsinjectobj": good, "x-forwarded-for": GATEWAY}
        assert gateway.get(url, headers=itself).json()["tenant"] is None
        assert gateway.get(url, headers={"soajsinjectobj": good}).json()["tenant"] == tenant


def test_a_duplicated_header_from_the_gateway_is_refused_even_when_cached() -> None:
    good = make_inject_header()
    with clients() as (url, gateway, _):
        assert gateway.get(url, headers={"soajsinjectobj": good}).json()["tenant"]
        twice = [("soajsinjectobj", good), ("soajsinjectobj", good)]
        assert gateway.get(url, headers=twice).json()["tenant"] is None
        assert gateway.get(url, headers={"soajsinjectobj": good}).json()["tenant"]
