"""``RegistryManager``: the environment registry of one service, kept fresh.

Reading
    The current registry is an immutable snapshot published with one atomic
    update of the manager's attributes: ``get_database`` / ``get_service``
    are bound to the C lookup of dict indexes built once per snapshot, so such
    a read takes no lock and runs no Python frame; ``manager.registry`` is the
    snapshot itself. A reader never sees a half-updated registry. For several
    reads that must agree with each other, take ``snap = manager.registry``
    once.

Writing
    ``reload()`` and the poller fetch and publish under one ``RLock``.

Polling
    A daemon thread reloads every ``serviceConfig.awareness.autoReloadRegistry``
    ms (floor 1 s, +-10 % jitter so workers do not poll in lockstep). A failed
    poll keeps the last good registry, logs one WARNING per outage, and retries
    with tenacity's exponential backoff with jitter (capped). With manual
    deployment the service registers at start, after an outage, and whenever
    the control plane no longer lists it.

Processes
    After ``fork()`` (gunicorn/uwsgi ``--preload``) the child keeps the last
    snapshot and starts its own poller with its own connection pool.
"""

from __future__ import annotations

import atexit
import logging
import os
import random
import threading
import time
import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn

import tenacity

from soajs.config import Config
from soajs.errors import (
    ConfigurationError,
    CustomNotFoundError,
    RegistryError,
    RegistryNotLoadedError,
    ResourceNotFoundError,
)
from soajs.registry.client import RegistryClient, ServiceType
from soajs.registry.snapshot import Snapshot
from soajs.settings import Settings

if TYPE_CHECKING:
    from soajs.models.registry import (
        Awareness,
        CustomEntry,
        Database,
        Registry,
        Resource,
        ServiceEntry,
    )

__all__ = ["RegistryManager"]

logger = logging.getLogger("soajs.registry")

#: Shortest period between two polls, whatever the control plane asks for.
MIN_RELOAD_INTERVAL = 1.0
#: Gateway default for ``serviceConfig.awareness.healthCheckInterval`` (5 s).
DEFAULT_HEALTH_CHECK_MS = 5000

_MANAGERS: weakref.WeakSet[RegistryManager] = weakref.WeakSet()


class _Stopped(Exception):
    """Raised inside the poller's sleep when stop() was called."""


class RegistryManager:
    """Keeps the registry of ``service_name`` in ``env_code`` fresh from the control plane.

    Parameters
    ----------
    service_name, env_code, service_type:
        What ``GET /getRegistry`` is asked for. ``env_code`` defaults to
        ``SOAJS_ENV``.
    auto_reload:
        Poll in a background thread (default). ``False``: load once; call
        :meth:`reload` yourself.
    config:
        The service's :class:`~soajs.Config`; needed for manual deployment
        (``SOAJS_DEPLOY_MANUAL``), whose ``POST /register`` body it builds.
    start_degraded:
        If the first load fails: ``False`` (default) raises at once with the
        control plane's error; ``True`` starts anyway, with :attr:`is_ready`
        false, and keeps trying in the background.
    autostart:
        Load (and register) in the constructor (default). ``False``: call
        :meth:`start`, or let the ASGI middleware do it on lifespan start-up.
    registry_api, deploy_manual, srv_ip, timeout:
        Override ``SOAJS_REGISTRY_API``, ``SOAJS_DEPLOY_MANUAL``,
        ``SOAJS_SRVIP`` and ``SOAJS_REGISTRY_TIMEOUT``.
    max_backoff:
        Cap, in seconds, of the wait between retries during an outage.
    stop_timeout:
        How long :meth:`stop` waits for the poller to end.
    """

    # Bound per snapshot to the C-level lookup of a dict index (see the module
    # docstring): a read is one attribute load and one C call. Documented on
    # the _unloaded_* placeholders that stand in before the first load.
    get_database: Callable[[str], Database]
    get_service: Callable[[str], ServiceEntry]

    def __init__(
        self,
        service_name: str,
        env_code: str | None = None,
        service_type: ServiceType = "service",
        auto_reload: bool = True,
        *,
        config: Config | None = None,
        start_degraded: bool = False,
        autostart: bool = True,
        settings: Settings | None = None,
        registry_api: str | None = None,
        deploy_manual: bool | None = None,
        srv_ip: str | None = None,
        timeout: float | None = None,
        max_backoff: float = 30.0,
        jitter: float = 0.1,
        stop_timeout: float = 5.0,
    ) -> None:
        if not service_name or not isinstance(service_name, str):
            raise ConfigurationError(
                f"service_name must be a non-empty string, got {service_name!r}"
            )
        if service_type not in ("service", "daemon"):
            raise ConfigurationError(
                f"service_type must be 'service' or 'daemon', got {service_type!r}"
            )
        if not 0 <= jitter < 1:
            raise ConfigurationError(f"jitter must be in [0, 1), got {jitter!r}")
        if max_backoff <= 0:
            raise ConfigurationError(f"max_backoff must be > 0 seconds, got {max_backoff!r}")
        self.settings = (settings or Settings.from_env()).override(
            env=env_code,
            registry_api=registry_api,
            deploy_manual=deploy_manual,
            srv_ip=srv_ip,
            registry_timeout=timeout,
        )
        self.service_name = service_name
        self.env_code = self.settings.require_env()
        self.service_type: ServiceType = service_type
        self.auto_reload = auto_reload
        self.config = config
        self.start_degraded = start_degraded
        self.max_backoff = max_backoff
        self.jitter = jitter
        self.stop_timeout = stop_timeout
        self._base_url = self.settings.registry_url
        if config is not None and config.name != service_name:
            raise ConfigurationError(
                f"config.name must be the service name {service_name!r}, got {config.name!r}"
            )
        if self.settings.deploy_manual and config is None:
            raise ConfigurationError(
                "SOAJS_DEPLOY_MANUAL is true but no Config was given: pass "
                "config=Config(name=..., group=..., port=...) so the service can register"
            )

        self.last_loaded_at: datetime | None = None
        self.last_error: RegistryError | None = None
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: RegistryClient | None = None
        self._started = False
        self._stopped = False
        self._pid = os.getpid()
        self._current: Snapshot | None = None
        self.get_database = self._unloaded_get_database
        self.get_service = self._unloaded_get_service
        _MANAGERS.add(self)
        if autostart:
            self.start()

    # -- lifecycle --------------------------------------------------------
    def start(self) -> RegistryManager:
        """Load (and register, with manual deployment), then start polling.

        Idempotent. Raises :class:`~soajs.errors.RegistryError` when the
        control plane cannot be reached, unless ``start_degraded``.
        """
        with self._lock:
            if self._stopped:
                raise RegistryError(f"registry manager of {self.service_name!r} was stopped")
            if self._started:
                return self
            try:
                self._refresh(register_first=True)
            except RegistryError as exc:
                if not self.start_degraded:
                    raise
                logger.warning(
                    "registry of %r not loaded at start (%s); starting degraded and "
                    "retrying in the background",
                    self.service_name,
                    exc,
                )
            self._started = True
            if self.auto_reload or not self.is_ready:
                self._start_poller()
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop polling and close the connection pool. Idempotent.

        Wakes the poller and joins it for at most ``timeout`` seconds
        (default ``stop_timeout``); the thread is a daemon, so it never
        blocks interpreter exit either way.
        """
        self._stop.set()
        with self._lock:
            already = self._stopped
            self._stopped = True
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.stop_timeout if timeout is None else timeout)
            if thread.is_alive():
                logger.warning(
                    "registry poller of %r did not stop within %.1fs (a call to the "
                    "control plane is still running); it will end on its own",
                    self.service_name,
                    self.stop_timeout if timeout is None else timeout,
                )
        if not already:
            with self._lock:
                client, self._client = self._client, None
            if client is not None:
                client.close()
            logger.debug("registry manager of %r stopped", self.service_name)

    close = stop

    def __enter__(self) -> RegistryManager:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- state ------------------------------------------------------------
    @property
    def is_ready(self) -> bool:
        """True once a registry has been loaded (and forever after: the last
        good one is kept through outages)."""
        return self._current is not None

    @property
    def is_running(self) -> bool:
        """True while the poller thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def is_stopped(self) -> bool:
        """True once :meth:`stop` was called."""
        return self._stopped

    @property
    def registry(self) -> Registry:
        """The current registry snapshot (immutable; replaced whole on reload).

        Raises :class:`~soajs.errors.RegistryNotLoadedError` before the first load.
        """
        snap = self._current
        if snap is None:
            self._not_loaded()
        return snap.registry

    def _not_loaded(self) -> NoReturn:
        detail = f": {self.last_error}" if self.last_error else ""
        raise RegistryNotLoadedError(
            f"registry of {self.service_name!r} ({self.env_code}) is not loaded yet{detail}"
        )

    # -- reads --------------------------------------------------------------
    def _unloaded_get_database(self, name: str) -> Database:
        """``get_database(name)``: the ``coreDB`` or ``tenantMetaDB`` entry ``name``.

        Raises :class:`~soajs.errors.DatabaseNotFoundError` (a ``LookupError``),
        or :class:`~soajs.errors.RegistryNotLoadedError` before the first load.
        """
        self._not_loaded()

    def _unloaded_get_service(self, name: str) -> ServiceEntry:
        """``get_service(name)``: the ``services`` entry ``name``.

        Raises :class:`~soajs.errors.ServiceNotFoundError` (a ``LookupError``),
        or :class:`~soajs.errors.RegistryNotLoadedError` before the first load.
        """
        self._not_loaded()

    def get_all_databases(self) -> dict[str, Database]:
        """Every database, core and tenant-meta, by name (a new dict)."""
        return dict(self._snapshot().databases)

    def get_custom(self, name: str) -> CustomEntry:
        """The ``custom`` entry ``name`` (its ``.value`` is what was stored)."""
        custom = self.registry.custom
        try:
            return custom[name]
        except KeyError:
            raise CustomNotFoundError(name, list(custom)) from None

    def get_resource(self, name: str, type: str | None = None) -> Resource:
        """The resource ``name``, searched in every type or only in ``type``."""
        resources = self.registry.resources
        groups = [resources.get(type, {})] if type is not None else list(resources.values())
        for group in groups:
            if name in group:
                return group[name]
        known = [n for group in groups for n in group]
        raise ResourceNotFoundError(name, known)

    @property
    def awareness(self) -> Awareness | None:
        """Where the gateway is (``{host, port}``), for calls outside a request."""
        return self.registry.awareness

    def _snapshot(self) -> Snapshot:
        snap = self._current
        if snap is None:
            self._not_loaded()
        return snap

    # -- writes -----------------------------------------------------------
    def reload(self) -> Registry:
        """Fetch the registry now and publish it; returns the new snapshot.

        On failure the last good registry stays in place and
        :class:`~soajs.errors.RegistryError` is raised.
        """
        if self._stopped:
            raise RegistryError(f"registry manager of {self.service_name!r} was stopped")
        return self._refresh(register_first=False)

    def register(self) -> Any:
        """``POST /register`` this service now (manual deployment); returns ``data``."""
        if self.config is None:
            raise ConfigurationError(
                "register() needs the service's Config: RegistryManager(..., config=Config(...))"
            )
        with self._lock:
            return self._register(self._get_client())

    def _refresh(self, *, register_first: bool) -> Registry:
        with self._lock:
            client = self._get_client()
            try:
                manual = self.settings.deploy_manual
                if manual and register_first:
                    self._register(client)
                registry = client.get_registry(self.env_code, self.service_name, self.service_type)
                if manual and not register_first and not self._is_listed(registry):
                    logger.warning(
                        "control plane no longer lists %r (restarted with an empty registry?): "
                        "registering again",
                        self.service_name,
                    )
                    self._register(client)
                    registry = client.get_registry(
                        self.env_code, self.service_name, self.service_type
                    )
            except RegistryError as exc:
                self.last_error = exc
                raise
            self._publish(registry)
            return registry

    def _register(self, client: RegistryClient) -> Any:
        assert self.config is not None
        body = self.config.registration_body(ip=self.config.ip or self.settings.srv_ip)
        data = client.register(body)
        logger.info(
            "registered %r v%s at %s:%s with the control plane",
            body["name"],
            body["version"],
            body["ip"],
            body["port"],
        )
        return data

    def _is_listed(self, registry: Registry) -> bool:
        if self.service_name in registry.services:
            return True
        daemons = (registry.model_extra or {}).get("daemons")
        return isinstance(daemons, dict) and self.service_name in daemons

    def _publish(self, registry: Registry) -> None:
        snap = Snapshot(registry)
        # One dict update: atomic for readers (no Python code runs in between).
        self.__dict__.update(
            get_database=snap.databases.__getitem__,
            get_service=snap.services.__getitem__,
            _current=snap,
        )
        self.last_loaded_at = datetime.now(UTC)
        self.last_error = None

    def _get_client(self) -> RegistryClient:
        if self._client is None:
            self._client = RegistryClient(self._base_url, timeout=self.settings.registry_timeout)
        return self._client

    # -- the poller ---------------------------------------------------------
    def _start_poller(self) -> None:
        thread = threading.Thread(
            target=self._poll_forever,
            name=f"soajs-registry-{self.service_name}",
            daemon=True,
        )
        self._thread = thread
        thread.start()

    def next_interval(self) -> float:
        """Seconds until the next poll: the control plane's period, floored, jittered."""
        snap = self._current
        base = snap.registry.auto_reload_ms / 1000 if snap else MIN_RELOAD_INTERVAL
        if snap is not None and _gateway_unknown(snap.registry):
            # Gateway 4.3.4 answers awareness.host = null until its first health
            # check of itself passes (one interval after it starts, or restarts):
            # ask again after two health-check intervals, not after an hour.
            checks = snap.registry.service_config.awareness.health_check_interval
            base = min(base, 2 * (checks or DEFAULT_HEALTH_CHECK_MS) / 1000)
        base = max(MIN_RELOAD_INTERVAL, base)
        return max(MIN_RELOAD_INTERVAL, base * (1 + random.uniform(-self.jitter, self.jitter)))  # noqa: S311

    def _poll_forever(self) -> None:
        stop = self._stop
        while not stop.is_set():
            if self.is_ready and (not self.auto_reload or stop.wait(self.next_interval())):
                return
            try:
                self._poll_once()
            except _Stopped:
                return
            except Exception:  # a bug, not an outage: keep the poller alive
                logger.exception("unexpected error in the registry poller of %r", self.service_name)
                if stop.wait(self.max_backoff):
                    return

    def _poll_once(self) -> None:
        outage_start = time.monotonic()
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(RegistryError),
            # exponential growth with full jitter, capped at max_backoff
            wait=tenacity.wait_random_exponential(
                multiplier=min(1.0, self.max_backoff), max=self.max_backoff
            ),
            sleep=self._sleep,
            before_sleep=self._log_failure,
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                failed_before = attempt.retry_state.attempt_number > 1
                self._refresh(register_first=failed_before or not self.is_ready)
        attempts = retrying.statistics.get("attempt_number", 1)
        if attempts > 1:
            logger.warning(
                "control plane %s reachable again after %d failed polls in %.1fs; "
                "registry of %r reloaded",
                self._base_url,
                attempts - 1,
                time.monotonic() - outage_start,
                self.service_name,
            )

    def _sleep(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise _Stopped

    def _log_failure(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.upcoming_sleep
        if state.attempt_number == 1:
            kept = (
                f"keeping the registry loaded at {self.last_loaded_at:%Y-%m-%d %H:%M:%S} UTC"
                if self.last_loaded_at
                else "no registry loaded yet"
            )
            logger.warning(
                "registry poll of %r failed: %s; %s; retrying with backoff (next in %.1fs)",
                self.service_name,
                exc,
                kept,
                wait,
            )
        else:
            logger.debug(
                "registry poll of %r failed again (attempt %d): %s; next in %.1fs",
                self.service_name,
                state.attempt_number,
                exc,
                wait,
            )

    # -- fork ---------------------------------------------------------------
    def _after_fork_in_child(self) -> None:
        # Threads do not survive fork and the parent's lock, event and sockets
        # must not be shared: start afresh, keeping the last good snapshot.
        self._lock = threading.RLock()
        self._client = None  # the parent's pool belongs to the parent
        self._pid = os.getpid()
        had_poller = self._thread is not None and not self._stop.is_set()
        self._stop = threading.Event()
        self._thread = None
        if self._stopped:
            self._stop.set()
        elif had_poller:
            self._start_poller()

    def __repr__(self) -> str:
        state = "ready" if self.is_ready else "not loaded"
        if self._stopped:
            state += ", stopped"
        return (
            f"<RegistryManager {self.service_name!r} env={self.env_code!r} "
            f"control_plane={self._base_url} {state}>"
        )


def _gateway_unknown(registry: Registry) -> bool:
    awareness = registry.awareness
    return awareness is None or not awareness.host


def _after_fork_in_child() -> None:
    for manager in list(_MANAGERS):
        manager._after_fork_in_child()


def _stop_all_at_exit() -> None:
    for manager in list(_MANAGERS):
        manager._stop.set()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_stop_all_at_exit)
