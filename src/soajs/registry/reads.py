"""The read side of :class:`~soajs.registry.manager.RegistryManager`: one snapshot, no lock.

Each load builds an immutable :class:`~soajs.registry.snapshot.Snapshot` and
its lookup indexes, then publishes them with one atomic update of the
manager's ``__dict__``: ``get_database`` / ``get_service`` become the C-level
lookups of the new indexes, so a read is one attribute load and one C call,
and a reader never sees a half-updated registry.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NoReturn

from soajs.errors import (
    CustomNotFoundError,
    RegistryError,
    RegistryNotLoadedError,
    ResourceNotFoundError,
)
from soajs.registry.snapshot import Snapshot

if TYPE_CHECKING:
    from soajs.models.registry import (
        Awareness,
        CustomEntry,
        Database,
        Registry,
        Resource,
        ServiceEntry,
    )

__all__ = ["DEFAULT_HEALTH_CHECK_MS", "MIN_RELOAD_INTERVAL", "SnapshotReads"]

#: Shortest period between two polls, whatever the control plane asks for.
MIN_RELOAD_INTERVAL = 1.0
#: Gateway default for ``serviceConfig.awareness.healthCheckInterval`` (5 s).
DEFAULT_HEALTH_CHECK_MS = 5000


class SnapshotReads:
    """Reads of the current snapshot (a mixin of ``RegistryManager``)."""

    service_name: str
    env_code: str
    jitter: float
    last_error: RegistryError | None
    last_loaded_at: datetime | None
    _current: Snapshot | None

    # Bound per snapshot to the C-level lookup of a dict index (see the module
    # docstring): a read is one attribute load and one C call. Documented on
    # the _unloaded_* placeholders that stand in before the first load.
    get_database: Callable[[str], Database]
    get_service: Callable[[str], ServiceEntry]

    @property
    def is_ready(self) -> bool:
        """True once a registry has been loaded (and forever after: the last
        good one is kept through outages)."""
        return self._current is not None

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


def _gateway_unknown(registry: Registry) -> bool:
    awareness = registry.awareness
    return awareness is None or not awareness.host
