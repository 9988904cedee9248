"""Answer bodies: read under a size cap and the call's deadline, or streamed.

Every answer is received as a stream whose chunks are counted and timed
(:class:`SyncBody` / :class:`AsyncBody` replace ``response.stream``):

* more raw bytes than the cap, or a ``Content-Length`` above it, ends the
  call with :class:`TooLarge` (the connector turns it into
  :class:`~soajs.connector.errors.ResponseTooLargeError`); the connection is
  closed, nothing more is read;
* the deadline is checked after every chunk (and, for async, each chunk
  read runs under ``asyncio.timeout``; for sync, the pooled client's sockets
  obey it, see :mod:`~soajs.connector.deadline`).

A buffered call (``connector.get(...)``) then reads the whole body with
:func:`read` / :func:`aread`, which also cap the *decoded* size (a small
gzip body can inflate a thousandfold), and hands back an ordinary
:class:`httpx.Response` whose ``content`` is loaded. A streamed call
(``connector.stream(...)``) hands the response over unread.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator, Iterator

import httpx

from soajs.connector.deadline import ACTIVE, Deadline

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "AsyncBody",
    "SyncBody",
    "TooLarge",
    "aread",
    "check_length",
    "read",
]

#: The default cap on a buffered answer's body: 10 MiB.
DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024


class TooLarge(Exception):
    """An answer's body passed the cap (``received`` bytes so far, or as announced)."""

    def __init__(self, limit: int, received: int, announced: bool = False) -> None:
        self.limit = limit
        self.received = received
        self.announced = announced
        super().__init__(f"{received} bytes > {limit}")


def check_length(response: httpx.Response, limit: int | None) -> None:
    """Refuse at once an answer whose ``Content-Length`` announces more than ``limit``."""
    if limit is None or response.status_code in (204, 304) or response.request.method == "HEAD":
        return  # no body follows, whatever Content-Length says
    value = response.headers.get("content-length", "")
    if value.isdigit() and int(value) > limit:
        raise TooLarge(limit, int(value), announced=True)


class SyncBody(httpx.SyncByteStream):
    """``response.stream``, its raw bytes counted against ``limit`` and timed by ``deadline``."""

    def __init__(
        self, inner: httpx.SyncByteStream, deadline: Deadline | None, limit: int | None
    ) -> None:
        self._inner = inner
        self._deadline = deadline if deadline is not None and deadline.bounded else None
        self._limit = limit

    def __iter__(self) -> Iterator[bytes]:
        chunks = iter(self._inner)
        deadline, limit = self._deadline, self._limit
        received = 0
        while True:
            if deadline is None:
                chunk = next(chunks, None)
            else:
                token = ACTIVE.set(deadline.end)  # bounds each socket read (pooled client)
                try:
                    chunk = next(chunks, None)
                finally:
                    ACTIVE.reset(token)
            if chunk is None:
                return
            received += len(chunk)
            if limit is not None and received > limit:
                raise TooLarge(limit, received)
            if deadline is not None:
                deadline.check()
            yield chunk

    def close(self) -> None:
        self._inner.close()


class AsyncBody(httpx.AsyncByteStream):
    """The async twin of :class:`SyncBody`: each chunk read runs under ``asyncio.timeout``."""

    def __init__(
        self, inner: httpx.AsyncByteStream, deadline: Deadline | None, limit: int | None
    ) -> None:
        self._inner = inner
        self._deadline = deadline if deadline is not None and deadline.bounded else None
        self._limit = limit

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks = aiter(self._inner)
        deadline, limit = self._deadline, self._limit
        received = 0
        while True:
            try:
                if deadline is None:
                    chunk = await anext(chunks)
                else:
                    left = deadline.remaining()
                    if left <= 0:
                        raise deadline.exceeded()
                    try:
                        async with asyncio.timeout(left):
                            chunk = await anext(chunks)
                    except TimeoutError:
                        raise deadline.exceeded() from None
            except StopAsyncIteration:
                return
            received += len(chunk)
            if limit is not None and received > limit:
                raise TooLarge(limit, received)
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


def _load(response: httpx.Response, chunks: list[bytes]) -> None:
    # What httpx's own Response.read() does with the decoded body, once it is capped.
    response._content = b"".join(chunks)


class _Inflate:
    """gzip/deflate decoding that never holds more than ``limit`` + 1 decoded bytes.

    httpx inflates each raw chunk whole: 64 KiB of a gzip bomb can become
    64 MiB at once. Here ``max_length`` bounds every step.
    """

    def __init__(self, encoding: str, limit: int) -> None:
        self.gzip = encoding in ("gzip", "x-gzip")
        self.inflater = zlib.decompressobj(16 + zlib.MAX_WBITS if self.gzip else zlib.MAX_WBITS)
        self.limit = limit
        self.total = 0
        self.started = False
        self.chunks: list[bytes] = []

    def feed(self, data: bytes) -> None:
        while data:
            try:
                piece = self.inflater.decompress(data, self.limit + 1 - self.total)
            except zlib.error as exc:
                if self.gzip or self.started:
                    raise httpx.DecodingError(str(exc)) from None
                self.inflater = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, as httpx
                self.started = True
                continue
            self.started = True
            self.total += len(piece)
            if self.total > self.limit:
                raise TooLarge(self.limit, self.total)
            self.chunks.append(piece)
            data = self.inflater.unconsumed_tail

    def finish(self) -> list[bytes]:
        tail = self.inflater.flush()  # all input went through decompress(): little or nothing
        self.total += len(tail)
        if self.total > self.limit:
            raise TooLarge(self.limit, self.total)
        return [*self.chunks, tail]


def _inflater(response: httpx.Response, limit: int | None) -> _Inflate | None:
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if limit is None or encoding not in ("gzip", "x-gzip", "deflate"):
        return None
    return _Inflate(encoding, limit)


def read(response: httpx.Response, limit: int | None) -> None:
    """Load ``response``'s body, decoded, refusing more than ``limit`` bytes."""
    inflate = _inflater(response, limit)
    if inflate is not None:
        for raw in response.iter_raw():
            inflate.feed(raw)
        _load(response, inflate.finish())
        return
    chunks: list[bytes] = []
    total = 0
    for chunk in response.iter_bytes():
        total += len(chunk)
        if limit is not None and total > limit:
            raise TooLarge(limit, total)
        chunks.append(chunk)
    _load(response, chunks)


async def aread(response: httpx.Response, limit: int | None) -> None:
    """The async twin of :func:`read`."""
    inflate = _inflater(response, limit)
    if inflate is not None:
        async for raw in response.aiter_raw():
            inflate.feed(raw)
        _load(response, inflate.finish())
        return
    chunks: list[bytes] = []
    total = 0
    async for chunk in response.aiter_bytes():
        total += len(chunk)
        if limit is not None and total > limit:
            raise TooLarge(limit, total)
        chunks.append(chunk)
    _load(response, chunks)
