"""Redirects, followed by the connector so SOAJS credentials never leave their origin.

With ``follow_redirects=True`` (per call, or set on your own client) httpx
would resend every header to wherever a ``Location`` points; since httpx
0.20 it drops only ``Authorization`` on a cross-origin hop, and keeps even
that on an ``http`` to ``https`` upgrade of the same host (httpx
``_client.py``: ``_redirect_headers``). A mesh call carries
``soajsinjectobj`` (the tenant's iKey and eKey, the user) and a gateway
call the tenant's ``key`` and the user's ``access_token``: a ``307`` from a
compromised or misconfigured peer would hand them to any host.

So the connector sends every request with ``follow_redirects=False`` and
follows redirects itself: the same method rules as httpx, at most the
client's ``max_redirects`` hops, and on the first hop to another origin
(scheme, host or port differ) the request loses :data:`CREDENTIAL_HEADERS`
and any ``auth=`` for the rest of the chain (also when a later hop comes
back), like browsers do for ``Authorization`` (WHATWG fetch). Trace headers
and your other headers go on.
"""

from __future__ import annotations

import httpx

__all__ = ["CREDENTIAL_HEADERS", "next_request", "same_origin"]

#: Never sent to another origin than the one the call was made to.
CREDENTIAL_HEADERS = (
    "soajsinjectobj",
    "key",
    "access_token",
    "authorization",
    "proxy-authorization",
    "cookie",
)


def _port(url: httpx.URL) -> int | None:
    if url.port is not None:
        return url.port
    return {"http": 80, "https": 443}.get(url.scheme)


def same_origin(url: httpx.URL, other: httpx.URL) -> bool:
    return url.scheme == other.scheme and url.host == other.host and _port(url) == _port(other)


def _method(method: str, status: int) -> str:
    if status in (302, 303) and method != "HEAD":
        return "GET"
    if status == 301 and method == "POST":
        return "GET"
    return method


def _location(request: httpx.Request, response: httpx.Response) -> httpx.URL:
    try:
        url = httpx.URL(response.headers["location"])
    except httpx.InvalidURL as exc:
        raise httpx.RemoteProtocolError(
            f"invalid URL in a redirect's Location header: {exc}", request=request
        ) from None
    if url.scheme and not url.host:
        url = url.copy_with(host=request.url.host)
    if url.is_relative_url:
        url = request.url.join(url)
    if url.scheme not in ("http", "https"):
        raise httpx.UnsupportedProtocol(
            f"a redirect points to an unsupported scheme {url.scheme!r}", request=request
        )
    return url


def next_request(
    request: httpx.Request,
    response: httpx.Response,
    *,
    cookies: httpx.Cookies | None,
    timeout: httpx.Timeout,
    stripped: bool,
) -> tuple[httpx.Request, bool]:
    """The request that follows ``response``'s redirect, and whether credentials are now stripped.

    ``stripped`` says whether an earlier hop already left the call's origin.
    """
    url = _location(request, response)
    method = _method(request.method, response.status_code)
    headers = httpx.Headers(request.headers)
    if not same_origin(url, request.url):
        headers["host"] = url.netloc.decode("ascii")
        stripped = True
    if stripped:
        for name in CREDENTIAL_HEADERS:
            headers.pop(name, None)
    headers.pop("cookie", None)  # from the client's cookie store for the new URL, as httpx does
    stream: httpx.SyncByteStream | httpx.AsyncByteStream | None = request.stream
    if method != request.method and method == "GET":
        headers.pop("content-length", None)
        headers.pop("transfer-encoding", None)
        stream = None
    extensions = {**request.extensions, "timeout": timeout.as_dict()}
    follow = httpx.Request(
        method,
        url,
        headers=headers,
        cookies=cookies if not stripped else None,
        stream=stream,
        extensions=extensions,
    )
    if stripped:
        follow.headers.pop("cookie", None)
    return follow, stripped
