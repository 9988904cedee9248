"""Test clients that send requests the way the gateway does: from a trusted address.

Why: the middleware believes ``soajsinjectobj`` only from a trusted gateway
address (``trusted_gateways`` / ``SOAJS_TRUSTED_GATEWAYS``). Starlette's
``TestClient(app)`` presents the peer ``"testclient"``, which is not an IP
and matches no trusted list, so a test sending a well-formed header silently
gets no context (and the one WARNING saying why is rate-limited to once a
minute, so the next tests show nothing). These clients present a loopback
peer (``127.0.0.1``, the default trusted address in the kit) and send the
header as UTF-8 bytes (httpx refuses a non-ASCII ``str`` header; WSGI wants
the bytes as a latin-1 ``str``).

* ``asgi_client``: Starlette's ``TestClient`` (sync; ``with`` runs the
  app's lifespan when the app supports it: Django's ASGI application refuses
  the lifespan scope, which then is skipped as uvicorn skips it;
  ``lifespan=False`` never runs it) with ``client=(peer, port)``;
* ``asgi_async_client``: an ``httpx.AsyncClient`` over
  ``httpx.ASGITransport(client=(peer, port))`` (no lifespan);
* ``wsgi_client``: a Werkzeug test client (Flask apps too) with
  ``REMOTE_ADDR``. Every client takes ``peer`` as a host (``"127.0.0.1"``) or
  a ``(host, port)`` pair; Django's ``django.test.Client`` already sends
  ``REMOTE_ADDR=127.0.0.1``: pass the header with ``wsgi_header_environ``.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

import httpx

if TYPE_CHECKING:
    from starlette.testclient import TestClient
    from werkzeug.test import Client

__all__ = [
    "GATEWAY_PEER",
    "Peer",
    "asgi_async_client",
    "asgi_client",
    "inject_headers",
    "lifespan_tolerant",
    "peer_address",
    "wsgi_client",
    "wsgi_header_environ",
]

#: The address the kit's clients present as the gateway's: loopback, trusted by default.
GATEWAY_PEER = ("127.0.0.1", 4000)

HEADER = "soajsinjectobj"

#: A peer: a host, or a ``(host, port)`` pair (the port defaults to the gateway's).
Peer = str | tuple[str, int]


def peer_address(peer: Peer) -> tuple[str, int]:
    """``peer`` as ``(host, port)``: a bare host gets ``GATEWAY_PEER``'s port."""
    if isinstance(peer, str):
        return (peer, GATEWAY_PEER[1])
    host, port = peer
    return (str(host), int(port))


def lifespan_tolerant(app: Any, lifespan: bool | Literal["auto"] = "auto") -> Any:
    """``app`` with a lifespan scope it cannot break: ``"auto"`` runs the app's
    lifespan, but an app that raises before reading its first lifespan message
    (Django: "can only handle ASGI/HTTP connections, not lifespan") is treated as
    one without lifespan, as the ASGI spec and uvicorn do; ``False`` never passes
    the lifespan scope to the app; ``True`` returns ``app`` itself."""
    if lifespan is True:
        return app

    async def without_lifespan(receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            kind = message.get("type", "")
            if kind == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif kind == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") != "lifespan":
            return await app(scope, receive, send)  # type: ignore[no-any-return]
        if lifespan is False:
            return await without_lifespan(receive, send)
        received = False

        async def tracking_receive() -> Any:
            nonlocal received
            received = True
            return await receive()

        try:
            await app(scope, tracking_receive, send)
        except Exception:
            if received:
                raise  # a real startup/shutdown failure: the test must see it
            await without_lifespan(receive, send)  # the app does not speak lifespan

    wrapped.__wrapped__ = app  # type: ignore[attr-defined]
    wrapped.app = app  # type: ignore[attr-defined]  # reset_middleware walks .app
    return wrapped


def inject_headers(header: str | bytes | None) -> dict[str, bytes]:
    """``{"soajsinjectobj": <UTF-8 bytes>}`` for an httpx/TestClient request (``{}`` for None)."""
    if header is None:
        return {}
    return {HEADER: header.encode("utf-8") if isinstance(header, str) else header}


def wsgi_header_environ(header: str | bytes | None) -> dict[str, str]:
    """The WSGI environ entry for the header: its UTF-8 bytes as a latin-1 ``str``
    (PEP 3333), as a real WSGI server delivers them. For ``environ_base`` /
    ``environ_overrides`` (Werkzeug, Flask) or ``**extra`` (Django's test client)."""
    if header is None:
        return {}
    raw = header.encode("utf-8") if isinstance(header, str) else header
    return {"HTTP_SOAJSINJECTOBJ": raw.decode("latin-1")}


def asgi_client(
    app: Any,
    header: str | bytes | None = None,
    *,
    peer: Peer = GATEWAY_PEER,
    base_url: str = "http://testserver",
    headers: Mapping[str, str] | None = None,
    lifespan: bool | Literal["auto"] = "auto",
    **kwargs: Any,
) -> TestClient:
    """Starlette's ``TestClient`` presenting ``peer`` as the transport peer.

    ``header`` (e.g. ``make_inject_header``) is sent with
    every request; a request may still pass its own ``headers=``. Use it as a
    context manager to run the app's lifespan (registry start, listener);
    ``lifespan`` is as in ``lifespan_tolerant`` (an app refusing the
    lifespan scope, like Django's, works in a ``with`` block).
    """
    with warnings.catch_warnings():
        # Starlette >= 1.x prefers httpx2 for its TestClient and warns at import
        # when only httpx is installed; the client works the same with httpx.
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    default: dict[str, Any] = dict(headers or {})
    default.update(inject_headers(header))
    return TestClient(
        lifespan_tolerant(app, lifespan),
        base_url=base_url,
        client=peer_address(peer),
        headers=default,
        **kwargs,
    )


def asgi_async_client(
    app: Any,
    header: str | bytes | None = None,
    *,
    peer: Peer = GATEWAY_PEER,
    base_url: str = "http://testserver",
    headers: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` calling the ASGI ``app`` in-process from ``peer``.

    No lifespan is run: start a registry yourself, or use an offline one.
    """
    default: dict[str, Any] = dict(headers or {})
    default.update(inject_headers(header))
    transport = httpx.ASGITransport(app=app, client=peer_address(peer))
    return httpx.AsyncClient(transport=transport, base_url=base_url, headers=default, **kwargs)


def wsgi_client(
    app: Callable[..., Iterable[bytes]],
    header: str | bytes | None = None,
    *,
    peer: Peer = GATEWAY_PEER[0],
    environ: Mapping[str, Any] | None = None,
) -> Client:
    """A Werkzeug test ``Client`` for the WSGI ``app`` (a Flask app works) from ``peer``.

    Every request carries ``REMOTE_ADDR=peer`` and, when given, ``header``
    (as a real server delivers it). Per request: ``client.get(path,
    environ_overrides=wsgi_header_environ(other))``.
    """
    host, port = peer_address(peer)
    base: dict[str, Any] = {"REMOTE_ADDR": host}
    if not isinstance(peer, str):
        base["REMOTE_PORT"] = str(port)
    base.update(environ or {})
    base.update(wsgi_header_environ(header))
    test_client = getattr(app, "test_client", None)
    if callable(test_client):  # Flask: keep its client (sessions, json helpers)
        client: Client = test_client()
        client.environ_base.update(base)  # type: ignore[attr-defined]
        return client
    environ_client: Client = _environ_client_class()(app, base)
    return environ_client


@functools.cache
def _environ_client_class() -> Any:
    # built on first use: werkzeug is an optional dependency (the flask extra)
    from werkzeug.test import Client

    class EnvironClient(Client):
        """A Werkzeug client with default environ entries (Flask's client has them built in)."""

        def __init__(self, app: Any, environ_base: dict[str, Any]) -> None:
            super().__init__(app)
            self.environ_base = environ_base

        def open(self, *args: Any, **kwargs: Any) -> Any:
            if not args or isinstance(args[0], str):
                kwargs["environ_base"] = {**self.environ_base, **kwargs.get("environ_base", {})}
            return super().open(*args, **kwargs)

    return EnvironClient
