"""Trust is decided on the transport peer, not on what X-Forwarded-For says.

Finding 2 of issue 12: with ``trusted_gateways=10.0.0.0/8``, a forged header
plus ``X-Forwarded-For: 10.0.0.5`` sent from 127.0.0.1 was believed under
uvicorn's defaults (``proxy_headers`` on, ``forwarded_allow_ips`` 127.0.0.1,
which rewrite ``scope["client"]``) and behind werkzeug's ``ProxyFix``. Real
servers on loopback: uvicorn with its defaults, werkzeug's threaded server.
The real gateway (4.3.x) adds no X-Forwarded-For (tests/interop captures), so
its own requests are never rewritten; a client's X-Forwarded-For it passes
on must not cost the genuine header its context when the server keeps the
transport peer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from werkzeug.middleware.proxy_fix import ProxyFix

from soajs.middleware import SOAJSMiddleware, SOAJSWSGIMiddleware, get_soajs_context
from tests.conftest import FIXTURES
from tests.integration.servers import raw_get, uvicorn_server, werkzeug_server

RAW = (FIXTURES / "soajsinjectobj_raw.txt").read_bytes().strip()
FORGED = b'{"tenant":{"id":"FORGED","code":"FORGED"}}'
NO_EXTRAS: dict[str, Any] = {"maintenance_listener": False}


def starlette(**options: Any) -> Starlette:
    async def who(request: Request) -> JSONResponse:
        ctx = get_soajs_context(request)
        return JSONResponse(
            {
                "tenant": None if ctx is None else ctx.tenant.id,
                "header_seen": "soajsinjectobj" in request.headers,
                "client": request.client.host if request.client else None,
            }
        )

    app = Starlette(routes=[Route("/who", who)])
    app.add_middleware(SOAJSMiddleware, **NO_EXTRAS, **options)
    return app


def wsgi_who(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    import json

    ctx = get_soajs_context(environ)
    body = json.dumps(
        {
            "tenant": None if ctx is None else ctx.tenant.id,
            "header_seen": "HTTP_SOAJSINJECTOBJ" in environ,
            "client": environ.get("REMOTE_ADDR"),
        }
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def who(port: int, header: bytes, *forwarding: tuple[bytes, bytes]) -> dict[str, Any]:
    import json

    response = raw_get(port, "/who", [(b"soajsinjectobj", header), *forwarding])
    assert response.status == 200, response.raw[:300]
    answer: dict[str, Any] = json.loads(response.body)
    return answer


XFF = (b"X-Forwarded-For", b"10.0.0.5")


def test_forgery_with_xff_is_refused_under_uvicorn_defaults(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="soajs")
    with uvicorn_server(starlette(trusted_gateways="10.0.0.0/8")) as served:
        for _ in range(3):
            answer = who(served.port, FORGED, XFF)
            # uvicorn did rewrite the peer (the attack is real)...
            assert answer["client"] == "10.0.0.5"
            # ...and the forged tenant is not believed, nor shown to the app
            assert answer["tenant"] is None
            assert answer["header_seen"] is False
        # RFC 7239 and X-Real-IP do not rewrite under uvicorn: plain untrusted peer
        assert who(served.port, FORGED, (b"X-Real-IP", b"10.0.0.5"))["tenant"] is None
    lines = [r.getMessage() for r in caplog.records if "proxy_rewritten_peer" in r.getMessage()]
    assert len(lines) == 1, lines  # one line, saying what to change
    assert "--forwarded-allow-ips" in lines[0]
    assert "FORGED" not in caplog.text


def test_genuine_gateway_traffic_under_uvicorn_defaults_keeps_its_context() -> None:
    with uvicorn_server(starlette(trusted_gateways="127.0.0.1")) as served:
        assert who(served.port, RAW)["tenant"] == "5f0a1b2c3d4e5f6a7b8c9d01"


def test_without_proxy_headers_a_client_xff_changes_nothing() -> None:
    app = starlette(trusted_gateways="127.0.0.1")
    with uvicorn_server(app, proxy_headers=False) as served:
        # the gateway passes on a client's own X-Forwarded-For: the peer is still it
        answer = who(served.port, RAW, (b"X-Forwarded-For", b"203.0.113.7, 198.51.100.2"))
        assert answer["tenant"] == "5f0a1b2c3d4e5f6a7b8c9d01"
        # one that names the gateway's own address cannot be told from a rewrite
        # (tests/integration/test_peer_trust_forms.py): refused, as documented
        answer = who(served.port, RAW, (b"X-Forwarded-For", b"203.0.113.7, 127.0.0.1"))
        assert answer["tenant"] is None
    app = starlette(trusted_gateways="10.0.0.0/8")
    with uvicorn_server(app, proxy_headers=False) as served:
        assert who(served.port, FORGED, XFF)["tenant"] is None


def test_forgery_with_xff_is_refused_behind_werkzeug_proxyfix() -> None:
    app = ProxyFix(SOAJSWSGIMiddleware(wsgi_who, trusted_gateways="10.0.0.0/8", **NO_EXTRAS))
    with werkzeug_server(app) as served:
        answer = who(served.port, FORGED, XFF)
        assert answer["client"] == "10.0.0.5"  # ProxyFix did rewrite REMOTE_ADDR
        assert answer["tenant"] is None
        assert answer["header_seen"] is False


def test_behind_proxyfix_the_original_peer_is_judged() -> None:
    app = ProxyFix(SOAJSWSGIMiddleware(wsgi_who, trusted_gateways="127.0.0.1", **NO_EXTRAS))
    with werkzeug_server(app) as served:
        answer = who(served.port, RAW, (b"X-Forwarded-For", b"203.0.113.7"))
        assert answer["client"] == "203.0.113.7"
        assert answer["tenant"] == "5f0a1b2c3d4e5f6a7b8c9d01"


def rewriting(app: Any) -> Any:
    """A home-made proxy-fix that keeps no trace of the original peer."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        xff = environ.get("HTTP_X_FORWARDED_FOR")
        if xff:
            environ["REMOTE_ADDR"] = xff.split(",")[-1].strip()
        return app(environ, start_response)

    return wrapped


def test_a_rewrite_without_a_trace_is_detected_under_werkzeug() -> None:
    app = rewriting(SOAJSWSGIMiddleware(wsgi_who, trusted_gateways="10.0.0.0/8", **NO_EXTRAS))
    with werkzeug_server(app) as served:
        answer = who(served.port, FORGED, XFF)
        assert answer["client"] == "10.0.0.5"
        assert answer["tenant"] is None
        assert answer["header_seen"] is False


def test_any_peer_trusted_on_purpose_needs_no_peer() -> None:
    with uvicorn_server(starlette(trusted_gateways="*")) as served:
        assert who(served.port, RAW, XFF)["tenant"] == "5f0a1b2c3d4e5f6a7b8c9d01"


# -- reverse proxies between the gateway and the service: trusted_proxy_hops ------------
# The transport peer (127.0.0.1 here) plays the proxy; X-Forwarded-For names the gateway.
HOPS: dict[str, Any] = {"trusted_gateways": "127.0.0.1,10.0.0.5", "trusted_proxy_hops": 1}


def hop_cases(port: int) -> None:
    gateway = (b"X-Forwarded-For", b"10.0.0.5")
    assert who(port, RAW, gateway)["tenant"] == "5f0a1b2c3d4e5f6a7b8c9d01"
    # the client's own X-Forwarded-For, passed on by the gateway, is left of it
    chain = (b"X-Forwarded-For", b"203.0.113.7, 10.0.0.5")
    assert who(port, RAW, chain)["tenant"] == "5f0a1b2c3d4e5f6a7b8c9d01"
    # not forwarded for a gateway, or not through the proxy at all: refused
    for forged in ((b"X-Forwarded-For", b"10.0.0.6"),
                   (b"X-Forwarded-For", b"10.0.0.5, 203.0.113.7")):  # fmt: skip
        answer = who(port, FORGED, forged)
        assert answer["tenant"] is None
        assert answer["header_seen"] is False
    assert who(port, FORGED)["tenant"] is None


def test_hops_under_uvicorn_without_proxy_headers() -> None:
    with uvicorn_server(starlette(**HOPS), proxy_headers=False) as served:
        hop_cases(served.port)


def test_hops_under_uvicorn_defaults_are_refused_as_rewritten() -> None:
    # uvicorn rewrote the peer to 10.0.0.5: the proxy is unknown, so nothing is believed
    with uvicorn_server(starlette(**HOPS)) as served:
        assert who(served.port, RAW, (b"X-Forwarded-For", b"10.0.0.5"))["tenant"] is None


def test_hops_under_werkzeug_with_and_without_proxyfix() -> None:
    with werkzeug_server(SOAJSWSGIMiddleware(wsgi_who, **HOPS, **NO_EXTRAS)) as served:
        hop_cases(served.port)
    app = ProxyFix(SOAJSWSGIMiddleware(wsgi_who, **HOPS, **NO_EXTRAS))
    with werkzeug_server(app) as served:
        hop_cases(served.port)


def test_an_untrusted_proxy_is_refused_whatever_it_forwards() -> None:
    app = SOAJSWSGIMiddleware(
        wsgi_who, trusted_gateways="10.0.0.5", trusted_proxy_hops=1, maintenance_listener=False
    )
    with werkzeug_server(app) as served:
        assert who(served.port, RAW, (b"X-Forwarded-For", b"10.0.0.5"))["tenant"] is None


def test_the_documented_fix_forwarded_allow_ips_empty_keeps_the_peer() -> None:
    app = starlette(trusted_gateways="127.0.0.1")
    with uvicorn_server(app, forwarded_allow_ips="") as served:
        answer = who(served.port, RAW, (b"X-Forwarded-For", b"203.0.113.7"))
        assert answer["client"] == "127.0.0.1"  # not rewritten
        assert answer["tenant"] == "5f0a1b2c3d4e5f6a7b8c9d01"
