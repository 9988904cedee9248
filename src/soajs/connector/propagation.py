"""What an outbound call carries over from the inbound request it is made for.

The middlewares do nothing for this: the ASGI scope or WSGI environ of the
request is current next to its context (:func:`soajs.context.current.current_request`),
and reset with it. Only when a handler calls another service does the
connector read, from that request (once; the result is kept in the scope or
environ under ``"soajs.inbound"``):

* ``traceparent``, ``tracestate`` and ``x-request-id``, forwarded on every
  call (mesh and gateway), so a trace crosses services;
* the caller's ``access_token`` (query string first, then header; sent on as
  a header) or else its ``Authorization`` header, forwarded to the *gateway
  only*, so the gateway can authenticate the user again. A mesh call carries the user in
  ``soajsinjectobj`` instead and gets no credentials.

Code outside a request (a background job, a test) can give the headers to
carry with :func:`inbound`, which wins over the current request.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from soajs.context.current import CURRENT
from soajs.context.parser import wsgi_header_bytes

if TYPE_CHECKING:
    from soajs.models.context import ContextData

__all__ = [
    "INBOUND_KEY",
    "TRACE_HEADERS",
    "Inbound",
    "current_inbound",
    "inbound",
    "inbound_of",
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

    def _parse(self) -> None:
        found: dict[bytes, bytes] = {}
        if self._via == "wsgi":
            environ: Mapping[str, Any] = self._headers
            for key, name in _WSGI_NAMES.items():
                value = environ.get(key)
                if value:
                    found[name] = wsgi_header_bytes(value)
        else:
            for name, value in self._headers:
                lname = name.lower()
                if lname in _WANTED and lname not in found:
                    found[lname] = value
        self._mesh = tuple((n, found[n]) for n in TRACE_HEADERS if n in found)
        query_token = _query_token(self._query)
        if query_token is not None:
            # Sent on as a header, never in a URL (httpx and the gateway log URLs);
            # gateway 4.3.4 reads the access_token header when the query has none.
            self._token = ((_ACCESS_TOKEN, query_token),)
        elif _ACCESS_TOKEN in found:
            self._token = ((_ACCESS_TOKEN, found[_ACCESS_TOKEN]),)
        elif _AUTHORIZATION in found:
            self._token = ((_AUTHORIZATION, found[_AUTHORIZATION]),)
        self._parsed = True


def _query_token(query: bytes | str) -> bytes | None:
    """The ``access_token`` of a query string, if the caller sent one there."""
    if not query:
        return None
    text = query.decode("latin-1") if isinstance(query, bytes) else query
    if "access_token" not in text:
        return None
    for name, value in parse_qsl(text, keep_blank_values=False):
        if name == "access_token":
            return value.encode("latin-1", "replace")
    return None


_INBOUND: ContextVar[Inbound | None] = ContextVar("soajs_inbound", default=None)


#: Where an Inbound built from a request is kept (in its scope or environ).
INBOUND_KEY = "soajs.inbound"


def inbound_of(request: MutableMapping[str, Any]) -> Inbound:
    """The :class:`Inbound` of an ASGI scope or WSGI environ (built once, kept in it)."""
    found = request.get(INBOUND_KEY)
    if isinstance(found, Inbound):
        return found
    if "type" in request and "headers" in request:  # an ASGI scope
        built = Inbound(request["headers"], request.get("query_string", b""), via="asgi")
    else:  # a WSGI environ, or Django's request.META
        built = Inbound(request, request.get("QUERY_STRING", ""), via="wsgi")
    request[INBOUND_KEY] = built
    return built


def current_inbound(context: ContextData | None = None) -> Inbound | None:
    """What calls made now carry over: :func:`inbound`'s headers, else the current request's.

    With ``context``, the current request's only when it is that request's own
    context (a call made for another request's tenant must not carry this
    request's user).
    """
    given = _INBOUND.get()
    if given is not None:
        return given
    current, request = CURRENT.get()
    if request is None or (context is not None and context is not current):
        return None
    return inbound_of(request)


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
