"""``MongoClients``: one pymongo client per registry location, kept across requests.

Needs the ``mongo`` extra (``pip install 'soajs-python[mongo]'``: pymongo 4.9+,
whose ``AsyncMongoClient`` is the async twin). A ``RegistryManager`` has one,
``manager.mongo``; a standalone one (``MongoClients()``) works too.

* **One client per location.** A location is a registry entry
  (``tenantMetaDB.orders``, ``coreDB.provision``): every tenant of a tenant
  entry shares its client (their databases differ by name only), as Node's
  ``soajs.mongo`` shares one per registry location. Async clients are kept
  per event loop as well (an ``AsyncMongoClient`` belongs to one loop).
* **Rebuilt on change.** Each client remembers a digest of what it was made
  of (scheme, hosts, credentials, options). A location whose digest changes
  (a reload changed its password or servers) gets a new client on its next
  use, and a reload checks every cached location at once
  (:meth:`MongoClients.sweep`).
* **Replaced clients are closed after a grace period** (``grace``, 30 s by
  default): a request that took the old client just before the reload
  finishes its operations with it; then it is closed off the caller's thread
  (:mod:`soajs.databases.retire`). ``grace=0`` closes at once.
* **Bounded.** At most ``max_clients`` (32) clients; past that the least
  recently used one is retired (same grace).
* **Thread-safe, no lock across I/O.** Clients are created with
  ``connect=False`` (no I/O), outside the lock; two threads racing for a
  new location keep one client and close the other.
* **Fork-safe.** A child process after ``fork()`` forgets the parent's
  clients (never closes nor uses them: their sockets and threads are the
  parent's) and makes its own.
* :meth:`MongoClients.close` (``manager.stop()`` calls it) closes every
  client within its timeout and refuses new ones. Async clients are closed
  on their own loop (scheduled; in a loop of the closing thread when theirs
  is gone); ``await aclose()`` from that loop waits, and ``await
  release_loop()`` closes the running loop's clients before the loop ends
  (an app's lifespan shutdown) and keeps the cache usable.
* Nothing logged carries a credential: only entry names and counts.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from soajs.databases.model import ResolvedDatabase, fingerprint_of
from soajs.databases.resolve import entry_fingerprint, location_uri
from soajs.databases.retire import Retirer, close_all, close_one
from soajs.errors import ConfigurationError, RegistryError

if TYPE_CHECKING:
    from pymongo import AsyncMongoClient, MongoClient
    from pymongo.asynchronous.database import AsyncDatabase
    from pymongo.synchronous.database import Database

    from soajs.models.registry import Registry

__all__ = ["DEFAULT_GRACE", "DEFAULT_MAX_CLIENTS", "MongoClients"]

logger = logging.getLogger("soajs.databases")

DEFAULT_MAX_CLIENTS = 32
DEFAULT_GRACE = 30.0

# (flavour, loop id or 0, kind, entry)
_Key = tuple[str, int, str, str]


class _Entry:
    __slots__ = ("client", "fingerprint", "loop")

    def __init__(self, client: Any, fingerprint: str, loop: asyncio.AbstractEventLoop | None):
        self.client = client
        self.fingerprint = fingerprint
        self.loop = loop


def _pymongo() -> Any:
    try:
        import pymongo
    except ImportError:  # pragma: no cover - the dev install has it
        raise ConfigurationError(
            "the MongoDB client cache needs pymongo: pip install 'soajs-python[mongo]'"
        ) from None
    return pymongo


class MongoClients:
    """pymongo clients for resolved databases, one per registry location (module docstring).

    Parameters
    ----------
    max_clients:
        Most clients kept (sync and async together); the least recently used
        is retired past it.
    grace:
        Seconds a replaced or evicted client stays open before it is closed.
    client_options:
        Keyword arguments for every client (``serverSelectionTimeoutMS``,
        ``appname``...); the URI's own options win over them.
    """

    def __init__(
        self,
        *,
        max_clients: int = DEFAULT_MAX_CLIENTS,
        grace: float = DEFAULT_GRACE,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(max_clients, int) or max_clients < 1:
            raise ConfigurationError(f"max_clients must be an integer >= 1, got {max_clients!r}")
        if not grace >= 0:
            raise ConfigurationError(f"grace must be >= 0 seconds, got {grace!r}")
        self.max_clients = max_clients
        self.grace = float(grace)
        self.client_options = dict(client_options or {})
        self.client_options.pop("connect", None)
        self._lock = threading.Lock()
        self._entries: OrderedDict[_Key, _Entry] = OrderedDict()
        self._retirer = Retirer(self.grace, 4 * max_clients)
        self._closed = False
        self._source: Callable[[], Any] | None = None
        _INSTANCES.add(self)

    def attach(self, source: Any) -> None:
        """Follow ``source``'s current registry (a ``RegistryManager``, held weakly):
        a client is then made from the entry as the registry has it *now*, so a
        ``ResolvedDatabase`` kept from before a reload still gets the current
        client, and one whose entry a reload removed (or broke) raises
        :class:`~soajs.errors.DatabaseNotFoundError` (or
        :class:`~soajs.errors.DatabaseConfigError`) rather than reconnect with
        its old settings. A manager attaches its own ``mongo``."""
        self._source = weakref.ref(source)

    def _current_uri(self, db: ResolvedDatabase) -> str:
        source = self._source() if self._source is not None else None
        if source is not None:
            try:
                registry = source.registry
            except Exception:  # not loaded (yet): the database's own settings
                registry = None
            if registry is not None:
                # the entry as the registry has it now: gone or broken by a reload is an
                # error (never a client made again from a kept database's old settings)
                kind, entry_name = db.location
                return location_uri(registry, kind, entry_name)
        return db.uri()

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._entries)} clients"
        return f"<MongoClients {state}, {len(self._retirer)} retiring>"

    # -- sync ----------------------------------------------------------------
    def client(self, db: ResolvedDatabase) -> MongoClient[Any]:
        """The ``MongoClient`` of ``db``'s location (made on first use, no I/O)."""
        client: MongoClient[Any] = self._get(db, "sync", None)
        return client

    def database(self, db: ResolvedDatabase) -> Database[Any]:
        """``client(db)[db.name]``: the tenant's (or the service's) own database."""
        return self.client(db)[db.name]

    # -- async ---------------------------------------------------------------
    def async_client(self, db: ResolvedDatabase) -> AsyncMongoClient[Any]:
        """The ``AsyncMongoClient`` of ``db``'s location for the running event loop."""
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        client: AsyncMongoClient[Any] = self._get(db, "async", loop)
        return client

    def async_database(self, db: ResolvedDatabase) -> AsyncDatabase[Any]:
        """``async_client(db)[db.name]``."""
        return self.async_client(db)[db.name]

    # -- core ----------------------------------------------------------------
    def _get(
        self, db: ResolvedDatabase, flavour: str, loop: asyncio.AbstractEventLoop | None
    ) -> Any:
        uri = self._current_uri(db)  # DatabaseConfigError on a bad entry, before any lookup
        fingerprint = fingerprint_of(uri)
        kind, entry_name = db.location
        key: _Key = (flavour, 0 if loop is None else id(loop), kind, entry_name)
        with self._lock:
            self._refuse_if_closed()
            entry = self._entries.get(key)
            if entry is not None and entry.fingerprint == fingerprint and entry.loop is loop:
                self._entries.move_to_end(key)
                return entry.client
        made = self._make(flavour, uri)  # no lock held: connect=False does no I/O
        retired: list[_Entry] = []
        with self._lock:
            closed = self._closed
            entry = self._entries.get(key)
            if (
                not closed
                and entry is not None
                and entry.fingerprint == fingerprint
                and entry.loop is loop
            ):
                winner, loser = entry.client, made  # another thread was first
                self._entries.move_to_end(key)
            elif not closed:
                winner, loser = made, None
                if entry is not None:
                    retired.append(entry)
                self._entries[key] = _Entry(made, fingerprint, loop)
                self._entries.move_to_end(key)
                while len(self._entries) > self.max_clients:
                    retired.append(self._entries.popitem(last=False)[1])
            else:
                winner, loser = None, made
        if loser is not None:
            close_all([close_one(loser, None if flavour == "sync" else loop)], 0)
        for old in retired:
            self._retirer.retire(close_one(old.client, old.loop))
        if retired:
            logger.info(
                "database client of %s %r replaced (%d retiring after %.0fs)",
                kind,
                entry_name[:100],  # a registry key: bounded in the log line
                len(retired),
                self.grace,
            )
        if winner is None:
            self._refuse_if_closed()
        return winner

    def _make(self, flavour: str, uri: str) -> Any:
        pymongo = _pymongo()
        factory: Callable[..., Any] = (
            pymongo.MongoClient if flavour == "sync" else pymongo.AsyncMongoClient
        )
        return factory(uri, connect=False, **self.client_options)

    def _refuse_if_closed(self) -> None:
        if self._closed:
            raise RegistryError("the database clients were closed (the registry manager stopped)")

    def sweep(self, registry: Registry) -> int:
        """Retire the clients whose location changed (or left) in ``registry``.

        Called on every registry load by a ``RegistryManager``; CPU only (the
        closes happen later, off this thread). Returns how many were retired.
        """
        with self._lock:
            items = list(self._entries.items())
        stale = [
            key
            for key, entry in items
            if entry_fingerprint(registry, key[2], key[3]) != entry.fingerprint
        ]
        retired: list[_Entry] = []
        with self._lock:
            for key in stale:
                entry = self._entries.get(key)
                # replaced meanwhile by a thread that already saw the new registry: keep it
                if entry is not None and entry_fingerprint(registry, key[2], key[3]) != (
                    entry.fingerprint
                ):
                    retired.append(self._entries.pop(key))
        for entry in retired:
            self._retirer.retire(close_one(entry.client, entry.loop))
        if retired:
            logger.info(
                "registry reload changed %d database location(s): their clients retire after %.0fs",
                len(retired),
                self.grace,
            )
        return len(retired)

    def close(self, timeout: float = 5.0) -> None:
        """Close every client (retiring ones too) and refuse new ones. Idempotent.

        Returns within ``timeout`` seconds whatever the servers do (a close
        still running then ends in its daemon thread). Async clients are
        closed on their own loop, scheduled from here.
        """
        with self._lock:
            self._closed = True
            entries = list(self._entries.values())
            self._entries.clear()
        closes = [close_one(entry.client, entry.loop) for entry in entries]
        closes += self._retirer.drain()
        left = close_all(closes, timeout)
        if left:
            logger.warning(
                "%d database client(s) did not close within %.1fs; they close in the background",
                left,
                timeout,
            )

    async def release_loop(self, timeout: float = 5.0) -> int:
        """Close and forget the async clients of the running loop (each awaited
        ``timeout`` s at most); the cache stays usable. Call it before a loop
        ends (``asyncio.run`` scripts, an app's lifespan shutdown): an
        ``AsyncMongoClient`` cannot be closed cleanly once its loop is gone.
        Returns how many were closed."""
        loop = asyncio.get_running_loop()
        with self._lock:
            mine = [key for key, entry in self._entries.items() if entry.loop is loop]
            clients = [self._entries.pop(key).client for key in mine]
        for client in clients:
            try:
                await asyncio.wait_for(client.close(), timeout)
            except Exception as exc:  # a failing close never breaks the caller
                logger.debug("closing a database client failed: %s", type(exc).__name__)
        return len(clients)

    async def aclose(self, timeout: float = 5.0) -> None:
        """``close()`` from async code: the async clients of the running loop are
        awaited here (:meth:`release_loop`), the others closed as by ``close()``."""
        await self.release_loop(timeout)
        await asyncio.to_thread(self.close, timeout)

    def _after_fork_in_child(self) -> None:
        # The parent's clients hold its sockets and monitor threads: forget them,
        # never close them from here (that would end the parent's sessions).
        self._lock = threading.Lock()
        self._entries = OrderedDict()
        self._retirer.forget()


_INSTANCES: weakref.WeakSet[MongoClients] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for clients in list(_INSTANCES):
        clients._after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)
