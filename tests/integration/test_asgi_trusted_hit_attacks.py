"""Attacks on the inlined cache-hit path for a listed gateway, under real uvicorn.

The inlined path believes one ``soajsinjectobj`` (often already cached from the
gateway) from a listed peer as it connected: no forwarding header, no proxy
hops configured. Every other request must go the long way and get what it got
before: a peer uvicorn rewrote from ``X-Forwarded-For`` (``forwarded_allow_ips``),
a listed proxy or gateway without the hop chain ``trusted_proxy_hops`` asks for,
a header sent two or three times, strict mode, a CIDR list, an IPv4-mapped
IPv6 peer of a dual-stack socket, a WebSocket. Clients bind their source
address on loopback: 127.0.0.2 is the gateway, 127.0.0.3 any other host.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from soajs.middleware import SOAJSMiddleware
from soajs.testing.headers import make_inject_header
from tests.integration.servers import uvicorn_server
from tests.integration.test_asgi_cache_hit_path import show
from tests.observability.test_exposition import Key, header_key, parse
from tests.support import wait_until

GATEWAY = "127.0.0.2"
OTHER = "127.0.0.3"
PROXY = "127.0.0.5"
GOOD = make_inject_header()
TENANT = json.loads(GOOD)["tenant"]["code"]
HIDDEN = {"tenant": None, "same": True, "header_seen": False}


async def echo(websocket: WebSocket) -> None:
    context = websocket.scope.get("soajs")
    await websocket.accept()
    await websocket.send_text(json.dumps(None if context is None else context.tenant.code))
    await websocket.close()


def app(**options: Any) -> SOAJSMiddleware:
    options.setdefault("trusted_gateways", GATEWAY)
    return SOAJSMiddleware(
        Starlette(routes=[Route("/", show), WebSocketRoute("/ws", echo)]),
        health=False,
        metrics_on_service_port=True,
        **options,
    )


def client(source: str) -> httpx.Client:
    return httpx.Client(timeout=10, transport=httpx.HTTPTransport(local_address=source))


@contextmanager
def served(
    middleware: SOAJSMiddleware, **config: Any
) -> Iterator[tuple[str, dict[str, httpx.Client]]]:
    peers = {source: client(source) for source in (GATEWAY, OTHER, PROXY)}
    try:
        with uvicorn_server(middleware, **config) as server:
            yield f"http://127.0.0.1:{server.port}/", peers
    finally:
        for peer in peers.values():
            peer.close()


def get(peer: httpx.Client, url: str, **extra: str) -> Any:
    return peer.get(url, headers={"soajsinjectobj": GOOD, **extra}).json()


def delta(before: dict[Key, float], after: dict[Key, float], key: Key) -> float:
    return after.get(key, 0.0) - before.get(key, 0.0)


@pytest.mark.parametrize("http", ["h11", "httptools"])
def test_every_client_uvicorn_rewrote_is_refused_though_the_header_is_cached(http: str) -> None:
    with served(app(), forwarded_allow_ips="*", http=http) as (url, peers):
        gateway, other = peers[GATEWAY], peers[OTHER]
        before = parse(gateway.get(url + "metrics").text)
        for _ in range(2):
            assert get(gateway, url)["tenant"] == TENANT
        # any host may name the gateway: uvicorn makes it the client, port 0 (the
        # name's case as sent: the server lower-cases it)
        assert get(other, url, **{"X-Forwarded-For": GATEWAY}) == HIDDEN
        assert get(other, url, **{"x-forwarded-for": f"{GATEWAY}:4000"}) == HIDDEN
        # the gateway naming a client: the client uvicorn reports is not the gateway
        assert get(gateway, url, **{"x-forwarded-for": "10.9.8.7"}) == HIDDEN
        assert get(gateway, url)["tenant"] == TENANT
        after = parse(gateway.get(url + "metrics").text)
    assert delta(before, after, header_key("ignored", "proxy_rewritten_peer")) == 3
    assert delta(before, after, ("soajs_context_cache_hits_total", (("reason", "ok"),))) == 2


def test_with_proxy_hops_a_cached_header_needs_the_whole_chain_every_time() -> None:
    options = {"trusted_gateways": f"{GATEWAY},{PROXY}", "trusted_proxy_hops": 1}
    with served(app(**options), proxy_headers=False) as (url, peers):
        proxy = peers[PROXY]
        for _ in range(3):  # the proxy forwarding for the gateway: cached after the first
            assert get(proxy, url, **{"x-forwarded-for": GATEWAY})["tenant"] == TENANT
        # listed peers, no forwarding header: the chain is too short, whatever is cached
        assert get(proxy, url) == HIDDEN
        assert get(peers[GATEWAY], url) == HIDDEN
        assert get(proxy, url, **{"x-forwarded-for": "10.9.8.7"}) == HIDDEN
        assert get(peers[OTHER], url, **{"x-forwarded-for": GATEWAY}) == HIDDEN
        assert get(proxy, url, **{"x-forwarded-for": GATEWAY})["tenant"] == TENANT


def test_two_or_three_copies_from_the_gateway_are_refused_equal_or_not() -> None:
    other = make_inject_header(tenant_code="OTHR")
    with served(app()) as (url, peers):
        gateway = peers[GATEWAY]
        before = parse(gateway.get(url + "metrics").text)
        assert get(gateway, url)["tenant"] == TENANT
        for copies in ([GOOD] * 2, [GOOD] * 3, [GOOD, other], [GOOD, GOOD, other], [other, GOOD]):
            answer = gateway.get(url, headers=[("soajsinjectobj", v) for v in copies]).json()
            assert answer["tenant"] is None, copies
        assert get(gateway, url)["tenant"] == TENANT
        after = parse(gateway.get(url + "metrics").text)
    assert delta(before, after, header_key("refused", "duplicate_header")) == 5
    assert delta(before, after, header_key("accepted", "ok")) == 2


def test_a_cached_refusal_counts_as_itself_from_the_gateway_and_as_untrusted_elsewhere() -> None:
    with served(app()) as (url, peers):
        gateway, other = peers[GATEWAY], peers[OTHER]
        before = parse(gateway.get(url + "metrics").text)
        for _ in range(3):
            answer = gateway.get(url, headers={"soajsinjectobj": "[1]"}).json()
            assert answer == {"tenant": None, "same": True, "header_seen": True}
        for _ in range(2):
            assert other.get(url, headers={"soajsinjectobj": "[1]"}).json() == HIDDEN
        after = parse(gateway.get(url + "metrics").text)
    assert delta(before, after, header_key("refused", "not_an_object")) == 3
    key = ("soajs_context_cache_hits_total", (("reason", "not_an_object"),))
    assert delta(before, after, key) == 2
    assert delta(before, after, header_key("ignored", "untrusted_peer")) == 2


def test_strict_mode_refuses_a_header_cached_from_the_gateway_from_anyone_else() -> None:
    with served(app(strict=True)) as (url, peers):
        gateway = peers[GATEWAY]
        assert gateway.get(url, headers={"soajsinjectobj": GOOD}).status_code == 200
        assert peers[OTHER].get(url, headers={"soajsinjectobj": GOOD}).status_code == 400
        spoof = {"soajsinjectobj": GOOD, "x-forwarded-for": GATEWAY}
        assert peers[OTHER].get(url, headers=spoof).status_code == 400  # rewritten by uvicorn
        twice = [("soajsinjectobj", GOOD)] * 2
        assert gateway.get(url, headers=twice).status_code == 400
        assert gateway.get(url, headers={"soajsinjectobj": GOOD}).status_code == 200


def test_a_listed_network_is_believed_and_nothing_outside_it() -> None:
    with served(app(trusted_gateways="127.0.0.0/30, 10.0.0.0/8")) as (url, peers):
        for _ in range(2):
            assert get(peers[GATEWAY], url)["tenant"] == TENANT
            assert get(peers[OTHER], url)["tenant"] == TENANT  # 127.0.0.3 is in the /30
            assert get(peers[PROXY], url) == HIDDEN


def test_a_websocket_from_another_peer_gets_no_context_from_a_cached_header() -> None:
    with served(app()) as (url, peers):
        assert get(peers[GATEWAY], url)["tenant"] == TENANT
        ws_url = url.replace("http://", "ws://") + "ws"
        for source, expected in ((GATEWAY, TENANT), (OTHER, None), (GATEWAY, TENANT)):
            address = ("127.0.0.1", httpx.URL(url).port)
            sock = socket.create_connection(address, timeout=10, source_address=(source, 0))
            with connect(ws_url, sock=sock, additional_headers={"soajsinjectobj": GOOD}) as ws:
                assert json.loads(ws.recv(timeout=10)) == expected, source


@contextmanager
def dual_stack(middleware: SOAJSMiddleware) -> Iterator[int]:
    """``middleware`` under uvicorn on a dual-stack ``::`` socket: IPv4 clients
    arrive as IPv4-mapped IPv6 peers (``::ffff:127.0.0.2``)."""
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind(("::", 0))
    config = uvicorn.Config(middleware, log_level="error", proxy_headers=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        assert wait_until(lambda: server.started or not thread.is_alive(), timeout=15)
        assert server.started, "uvicorn did not start"
        yield int(sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
        assert not thread.is_alive(), "uvicorn did not stop"


def test_an_ipv4_mapped_peer_is_judged_by_its_ipv4_address() -> None:
    with dual_stack(app()) as port:
        url = f"http://127.0.0.1:{port}/"
        with client(GATEWAY) as gateway, client(OTHER) as other:
            for _ in range(2):
                assert get(gateway, url)["tenant"] == TENANT
                assert get(other, url) == HIDDEN


def test_strict_mode_refuses_the_handshake_of_another_peer_with_a_cached_header() -> None:
    with served(app(strict=True)) as (url, peers):
        assert get(peers[GATEWAY], url)["tenant"] == TENANT
        ws_url = url.replace("http://", "ws://") + "ws"
        address = ("127.0.0.1", httpx.URL(url).port)
        header = {"soajsinjectobj": GOOD}
        for source in (OTHER, GATEWAY, OTHER):
            sock = socket.create_connection(address, timeout=10, source_address=(source, 0))
            if source == GATEWAY:
                with connect(ws_url, sock=sock, additional_headers=header) as ws:
                    assert json.loads(ws.recv(timeout=10)) == TENANT
                continue
            with pytest.raises(InvalidStatus) as refused:
                connect(ws_url, sock=sock, additional_headers=header).close()
            sock.close()
            assert refused.value.response.status_code in (400, 403)
