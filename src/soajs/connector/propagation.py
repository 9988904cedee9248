"""What an outbound call carries over from the inbound request it is made for.

The middlewares hand the inbound request to this module with one call per
request (:func:`capture_asgi` / :func:`capture_wsgi`); nothing is parsed
then. Only when a handler calls another service does the connector read,
from that request:

* ``traceparent``, ``tracestate`` and ``x-request-id``, forwarded on every
  call (mesh and gateway), so a trace crosses services;
* the caller's ``access_token`` (query string first, then header) or else
  its ``Authorization`` header, forwarded to the *gateway only*, so the
  gateway can authenticate the user again. A mesh call carries the user in
  ``soajsinjectobj`` instead and gets no credentials.

The value lives in a :class:`~contextvars.ContextVar` of its own. ASGI runs
each request in a task with its own context; a WSGI worker thread gets a new
value on every request, so a call never sees the previous request's headers.
Code outside a request (a background job) can set one with :func:`inbound`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any
from urllib.parse import parse_qsl

__all__ = [
    "TRACE_HEADERS",
    "Inbound",
    "capture_asgi",
    "capture_wsgi",
    "current_inbound",
    "inbound",
    "reset_inbound",
    "set_inbound",
]

#: Forwarded on every call, mesh or gateway.
TRACE_HEADERS = (b"traceparent", b"tracestate", b"x-request-id")
_ACCESS_TOKEN = b"access_token"
_AUTHORIZATION = b"authorization"
_WANTED = frozenset((*TRACE_HEADERS, _ACCESS_TOKEN, _AUTHORIZATION))
_WSGI_NAMES = {
    "HTTP_TRACEPARENT": b"traceparent",
    "HTTP_TRACESTATE": b"tracestate",
    "HTTP_X_REQUEST_ID": b"x-request-id",
    "HTTP_ACCESS_TOKEN": _ACCESS_TOKEN,
    "HTTP_AUTHORIZATION": _AUTHORIZATION,
}

Pairs = tuple[tuple[bytes, bytes], ...]


class Inbound:
    """The parts of one inbound request that outbound calls carry on.

    Built from raw request data; parsed on first use, then kept (one
    instance serves every call a handler makes).
    """

    __slots__ = ("_headers", "_mesh", "_parsed", "_query", "_token", "_via", "routes")

    def __init__(self, headers: Any, query: bytes | str, *, via: str) -> None:
        self._headers = headers
        self._query = query
        self._via = via  # "asgi" | "wsgi" | "pairs"
        self._parsed = False
        self._mesh: Pairs = ()
        self._token: Pairs = ()
        #: Routes of this request, keyed by the shared route they extend (see routing.py).
        self.routes: dict[Any, Any] = {}

    @property
    def mesh_pairs(self) -> Pairs:
        """Headers for a mesh call: the trace headers present, as raw bytes."""
        if not self._parsed:
            self._parse()
        return self._mesh

    @property
    def gateway_pairs(self) -> Pairs:
        """Headers for a gateway call: trace headers plus a header-borne credential."""
        if not self._parsed:
            self._parse()
        return self._mesh + self._token

    @property
    def query_token(self) -> str | None:
        """The ``access_token`` of the query string, if the caller sent one there."""
        query = self._query
        if not query:
            return None
        text = query.decode("latin-1") if isinstance(query, bytes) else query
        if "access_token" not in text:
            return None
        for name, value in parse_qsl(text, keep_blank_values=False):
            if name == "access_token":
                return value
        return None

    def _parse(self) -> None:
        found: dict[bytes, bytes] = {}
        if self._via == "wsgi":
            environ: Mapping[str, Any] = self._headers
            for key, name in _WSGI_NAMES.items():
                value = environ.get(key)
                if value:
                    found[name] = _wsgi_bytes(value)
        else:
            for name, value in self._headers:
                lname = name.lower()
                if lname in _WANTED and lname not in found:
                    found[lname] = value
        self._mesh = tuple((n, found[n]) for n in TRACE_HEADERS if n in found)
        if self.query_token is not None:
            self._token = ()  # goes in the query string (Connection.params)
        elif _ACCESS_TOKEN in found:
            self._token = ((_ACCESS_TOKEN, found[_ACCESS_TOKEN]),)
        elif _AUTHORIZATION in found:
            self._token = ((_AUTHORIZATION, found[_AUTHORIZATION]),)
        self._parsed = True


def _wsgi_bytes(value: str) -> bytes:
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape")


_INBOUND: ContextVar[Inbound | None] = ContextVar("soajs_inbound", default=None)


def capture_asgi(scope: MutableMapping[str, Any]) -> None:
    """Middleware hook (ASGI): remember this request for outbound calls. O(1), no parsing."""
    _INBOUND.set(Inbound(scope["headers"], scope.get("query_string", b""), via="asgi"))


def capture_wsgi(environ: Mapping[str, Any]) -> None:
    """Middleware hook (WSGI/Django ``request.META``): same as :func:`capture_asgi`."""
    _INBOUND.set(Inbound(environ, environ.get("QUERY_STRING", ""), via="wsgi"))


def current_inbound() -> Inbound | None:
    """The inbound request of the current task/thread, or ``None``."""
    return _INBOUND.get()


def set_inbound(headers: Mapping[str, str] | None = None, query: str = "") -> Token[Inbound | None]:
    """Set the inbound request by hand (tests, background jobs); undo: :func:`reset_inbound`."""
    pairs = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    return _INBOUND.set(Inbound(pairs, query, via="pairs"))


def reset_inbound(token: Token[Inbound | None]) -> None:
    """Undo :func:`set_inbound`."""
    _INBOUND.reset(token)


@contextmanager
def inbound(headers: Mapping[str, str] | None = None, query: str = "") -> Iterator[None]:
    """``with inbound({"traceparent": ...}):`` calls made inside carry these headers."""
    token = set_inbound(headers, query)
    try:
        yield
    finally:
        reset_inbound(token)
