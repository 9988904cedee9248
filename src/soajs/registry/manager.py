"""``RegistryManager``: the environment registry of one service, kept fresh.

The concerns live in their own modules: reads of the current snapshot, no
lock (:mod:`~soajs.registry.reads`); the one worker thread that calls the
control plane, never holding a lock across it (:mod:`~soajs.registry.poller`);
coalesced reloads (:mod:`~soajs.registry.reloads`); the broadcast of a reload
to the other workers of the host (:mod:`~soajs.registry.broadcast`); manual
registration (:mod:`~soajs.registry.registration`); one WARNING per outage
(:mod:`~soajs.registry.outage`); fork and exit (:mod:`~soajs.registry.processes`).
This module is the public class: its options, lifecycle and state.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from soajs.config import Config
from soajs.errors import (
    ConfigurationError,
    RegistryError,
)
from soajs.registry import processes
from soajs.registry.autoregister import RegistrationFlow
from soajs.registry.broadcast import ReloadBroadcast, default_runtime_dir, instance_key
from soajs.registry.client import RegistryClient, ServiceType
from soajs.registry.databases import DatabaseAccess
from soajs.registry.factories import OfflineFactories
from soajs.registry.outage import OutageLog
from soajs.registry.poller import Poller
from soajs.registry.reads import SnapshotReads
from soajs.registry.registration import Registrar
from soajs.registry.reloads import ReloadGate, ReloadOutcome, ReloadRequests, ReloadTicket
from soajs.registry.siblings import SiblingMarks
from soajs.registry.snapshot import Snapshot
from soajs.settings import Settings

if TYPE_CHECKING:
    from soajs.models.registry import (
        Registry,
    )

__all__ = ["RegistryManager", "ReloadOutcome", "ReloadTicket"]

logger = logging.getLogger("soajs.registry")


class RegistryManager(DatabaseAccess, SnapshotReads, ReloadRequests, OfflineFactories):
    """Keeps the registry of ``service_name`` in ``env_code`` fresh from the control plane.

    With no control plane (tests, tools): :meth:`from_dict` and :meth:`from_file`.

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
        false, and keeps trying in the background. A worker started while
        a sibling worker of the same server has a registry (gunicorn or
        uvicorn replacing a dead worker) starts degraded in any case
        (:mod:`soajs.registry.siblings`).
    autostart:
        Load (and register) in the constructor (default). ``False``: call
        :meth:`start`, or let the ASGI middleware do it on lifespan start-up.
    registry_api, deploy_manual, srv_ip, timeout:
        Override ``SOAJS_REGISTRY_API``, ``_DEPLOY_MANUAL``, ``_SRVIP``, ``_REGISTRY_TIMEOUT``
        (a total deadline per exchange). Modes: :mod:`soajs.registry.deployment`.
    max_bytes:
        Cap on a control-plane answer (``SOAJS_REGISTRY_MAX_BYTES``, 16 MiB).
    reload_min_interval:
        Shortest period between two reloads asked with :meth:`request_reload`
        (``SOAJS_RELOAD_MIN_INTERVAL``, 1 s).
    runtime_dir, broadcast:
        Where the reload broadcast's stamp files live (``SOAJS_RUNTIME_DIR``);
        ``broadcast=False`` turns it off (see :mod:`soajs.registry.broadcast`).
    max_backoff:
        Cap, in seconds, of the wait between retries during an outage.
    stop_timeout:
        How long :meth:`stop` waits for the worker thread to end.
    reload_timeout:
        How long :meth:`reload` waits by default (3 exchanges + 1 s).
    """

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
        max_bytes: int | None = None,
        reload_min_interval: float | None = None,
        runtime_dir: str | Path | None = None,
        broadcast: bool = True,
        max_backoff: float = 30.0,
        jitter: float = 0.1,
        stop_timeout: float = 5.0,
        reload_timeout: float | None = None,
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
        for name, value in (("stop_timeout", stop_timeout), ("reload_timeout", reload_timeout)):
            if value is not None and not value >= 0:
                raise ConfigurationError(f"{name} must be >= 0 seconds, got {value!r}")
        self.settings = (settings or Settings.from_env()).override(
            env=env_code,
            registry_api=registry_api,
            deploy_manual=deploy_manual,
            srv_ip=srv_ip,
            registry_timeout=timeout,
            registry_max_bytes=max_bytes,
            reload_min_interval=reload_min_interval,
            runtime_dir=None if runtime_dir is None else str(runtime_dir),
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
        self.reload_timeout = (
            3 * self.settings.registry_timeout + 1 if reload_timeout is None else reload_timeout
        )
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
        # Guards the fields below for an instant; never held across network I/O.
        self._state_lock = threading.Lock()
        self._client: RegistryClient | None = None
        self._started = False
        self._starting: threading.Event | None = None
        self._stopped = False
        self._pid = os.getpid()
        self._current: Snapshot | None = None
        self._gate = ReloadGate(self.settings.reload_min_interval)
        self._outage = OutageLog(logger, service_name, self._base_url)
        self._registrar = Registrar(service_name, config, self.settings.srv_ip)
        self._broadcast = self._make_broadcast() if broadcast else None
        self._marks = SiblingMarks(self._runtime_dir(), self._instance_key())
        #: The first load failed and the manager started without a registry.
        self.started_degraded = False
        self._poller = Poller(self)
        self._registration = RegistrationFlow(self)
        self._handoff: object = None  # set by processes.track()
        self.get_database = self._unloaded_get_database
        self.get_service = self._unloaded_get_service
        processes.track(self)
        if autostart:
            self.start()

    def _runtime_dir(self) -> Path:
        directory = self.settings.runtime_dir
        return Path(directory) if directory else default_runtime_dir()

    def _instance_key(self) -> str:
        port = self.config.port if self.config is not None else None
        return instance_key(self.env_code, self.service_name, port)

    def _make_broadcast(self) -> ReloadBroadcast:
        port = self.config.port if self.config is not None else None
        return ReloadBroadcast(self._runtime_dir(), self.env_code, self.service_name, port)

    # -- lifecycle --------------------------------------------------------
    def start(self) -> RegistryManager:
        """Load (and register, with manual deployment), then start polling.

        Idempotent (a concurrent call waits for the first one, within its
        deadline). Raises :class:`~soajs.errors.RegistryError` when the
        control plane cannot be reached, unless ``start_degraded``.
        """
        with self._state_lock:
            if self._stopped:
                raise RegistryError(f"registry manager of {self.service_name!r} was stopped")
            starting = self._starting
            first = starting is None
            if first:
                starting = self._starting = threading.Event()
        assert starting is not None
        if not first:
            starting.wait(self.reload_timeout)
            return self
        try:
            self._first_load()
        except BaseException:
            with self._state_lock:
                self._starting = None  # a later start() tries again
            self._close_client()  # a manager that failed in its constructor is dropped
            starting.set()
            raise
        if self._broadcast is not None and self.auto_reload:
            self._broadcast.start()
        with self._state_lock:
            self._started = True
            self._poller.next_poll = time.monotonic() + self.next_interval()
            if (self.auto_reload or not self.is_ready) and not self._stopped:
                self._poller.ensure_thread()
        starting.set()
        return self

    def _first_load(self) -> None:
        try:
            self._fetch(register_first=True)
        except RegistryError as exc:
            self.last_error = exc
            sibling = None if self.start_degraded else self._marks.live_sibling()
            if not self.start_degraded and sibling is None:
                raise  # a genuine first start: fail fast
            readiness = self.config.maintenance.readiness if self.config else "/heartbeat"
            self._outage.degraded_start(exc, sibling, readiness)
            self.started_degraded = True
        else:
            self._marks.mark()

    def stop(self, timeout: float | None = None) -> None:
        """Stop polling and close the connection pool. Idempotent.

        Returns within ``timeout`` seconds (default ``stop_timeout``) whatever
        the control plane does: it takes no lock held by a call, wakes the
        worker and joins it for at most that long. A call still running then
        ends by its own deadline (the thread is a daemon, and never blocks
        interpreter exit). Waiters of a pending reload are answered at once.
        """
        poller = self._poller
        poller.stop.set()
        poller.wake.set()
        with self._state_lock:
            already = self._stopped
            self._stopped = True
            thread = poller.thread
        self._gate.abandon(RegistryError(f"registry manager of {self.service_name!r} was stopped"))
        bound = self.stop_timeout if timeout is None else timeout
        if thread is not None and thread is not threading.current_thread():
            thread.join(bound)
            if thread.is_alive() and not already:
                logger.warning(
                    "registry worker of %r did not stop within %.1fs (a call to the "
                    "control plane is still running); it ends by its %gs deadline",
                    self.service_name,
                    bound,
                    self.settings.registry_timeout,
                )
        if thread is None or not thread.is_alive():
            self._close_client()
        self._marks.clear()
        if not already:
            logger.debug("registry manager of %r stopped", self.service_name)

    close = stop

    def _close_client(self) -> None:
        with self._state_lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

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
    def is_running(self) -> bool:
        """True while the worker thread is alive."""
        thread = self._poller.thread
        return thread is not None and thread.is_alive()

    @property
    def _thread(self) -> threading.Thread | None:
        """The worker thread (``None`` when not running)."""
        return self._poller.thread

    @property
    def is_stopped(self) -> bool:
        """True once :meth:`stop` was called."""
        return self._stopped

    @property
    def last_reload(self) -> ReloadOutcome | None:
        """The outcome of the last control-plane call made by the worker, if any."""
        return self._gate.last

    def register(self) -> Any:
        """``POST /register`` this service now (manual deployment); returns ``data``."""
        if self.config is None:
            raise ConfigurationError("register() needs RegistryManager(..., config=Config(...))")
        return self._registrar.register(self._get_client())

    def _fetch(self, *, register_first: bool) -> Registry:
        """One reload: (register,) fetch, publish (:mod:`~soajs.registry.autoregister`)."""
        return self._registration.fetch(self._get_client(), first=register_first)

    def set_api_list(self, api_list: list[dict[str, Any]] | Callable[[], Any]) -> None:
        """The app's routes for ``apiList``: a list, or a function the middleware gives."""
        self._registrar.api_list = api_list
        self._registration.api_list_changed()

    def _loaded_at(self) -> datetime:
        return self.last_loaded_at or datetime.now(UTC)

    def _kept(self) -> str:
        if self.last_loaded_at is None:
            return "no registry loaded yet"
        return f"keeping the registry loaded at {self.last_loaded_at:%Y-%m-%d %H:%M:%S} UTC"

    def _get_client(self) -> RegistryClient:
        with self._state_lock:
            if self._client is None:
                self._client = RegistryClient(
                    self._base_url,
                    timeout=self.settings.registry_timeout,
                    max_bytes=self.settings.registry_max_bytes,
                    cancel=self._poller.stop,
                )
            return self._client

    # -- fork ---------------------------------------------------------------
    def _after_fork_in_child(self) -> None:
        # Threads do not survive fork and the parent's lock, events, futures and
        # sockets must not be shared: start afresh, keeping the last good snapshot.
        old = self._poller
        self._state_lock = threading.Lock()
        self._client = None  # the parent's pool belongs to the parent
        self._pid = os.getpid()
        self._gate = ReloadGate(self.settings.reload_min_interval)
        self._marks.forget_parent()
        self._registration.after_fork()
        self._poller = Poller(self)
        self._poller.next_poll = old.next_poll
        self._poller.follows_workers = old.follows_workers
        if self._starting is not None and not self._starting.is_set():
            self._starting = None  # a start() interrupted by the fork
        if self._stopped:
            self._poller.stop.set()
        elif self._started and (self.auto_reload or not self.is_ready):
            # Whether or not the parent still had a worker (a --preload master
            # that handed off has none): this process polls for itself.
            self._poller.ensure_thread()

    def __repr__(self) -> str:
        state = "ready" if self.is_ready else "not loaded"
        if self._stopped:
            state += ", stopped"
        return (
            f"<RegistryManager {self.service_name!r} env={self.env_code!r} "
            f"control_plane={self._base_url} {state}>"
        )
