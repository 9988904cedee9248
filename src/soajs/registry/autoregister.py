"""When and where a service registers: the registration flow of one manager.

* HA (``SOAJS_DEPLOY_HA``) or ``SOAJS_SRV_AUTOREGISTERHOST=false``: never.
* Manual deployment: ``POST /register`` to ``SOAJS_REGISTRY_API`` before the
  first load (a refusal fails the start, as it always did), then, once the
  registry is loaded, to every other controller host in the background.
* Host auto-register: after the first load, to ``SOAJS_REGISTRY_API`` and
  every controller host, in the background (a failure is a WARNING, the
  service starts anyway, as in Node).
* Either: again when a poll finds the service unlisted (backing off,
  :class:`~soajs.registry.registration.Registrar`), and at once when this
  process takes the host's registration over from a worker that died
  (:mod:`soajs.registry.election`). Only one process per host registers.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from soajs.registry.client import RegistryClient
from soajs.registry.deployment import (
    ControllerTarget,
    DeploymentPlan,
    controller_targets,
    maintenance_port,
    plan,
)
from soajs.registry.election import HostElection
from soajs.registry.fanout import ControllerFanout

if TYPE_CHECKING:
    from soajs.models.registry import Registry
    from soajs.registry.manager import RegistryManager

__all__ = ["RegistrationFlow"]

logger = logging.getLogger("soajs.registry")


class RegistrationFlow:
    """The registration side of a :class:`~soajs.registry.manager.RegistryManager`."""

    def __init__(self, manager: RegistryManager) -> None:
        self.manager = manager
        settings = manager.settings
        self._plan: DeploymentPlan | None = None
        host, port = settings.require_registry_api()
        self.primary = ControllerTarget(host, port)
        self._election: HostElection | None = None
        self.fanout = self._fanout()
        self._announced = False
        self._registered_once = False

    @property
    def plan(self) -> DeploymentPlan:
        """The deployment plan, worked out on first use (it may read the interfaces)."""
        if self._plan is None:
            self._plan = plan(self.manager.settings, self.manager.config)
            self.manager._registrar.plan = self._plan
        return self._plan

    @property
    def election(self) -> HostElection:
        """The lock of this instance: same service, port and advertised IP on this machine
        (two instances on 127.0.0.1 and 127.0.0.2 are two hosts to the gateway)."""
        if self._election is None:
            key = f"{self.manager._instance_key()}-{self.plan.ip or 'any'}"
            manager = self.manager
            self._election = HostElection(
                manager._runtime_dir(), key, alive=lambda: not manager._poller.stop.is_set()
            )
        return self._election

    def release(self) -> None:
        """Let go of the host's registration (a ``--preload`` master hands off)."""
        if self._election is not None:
            self._election.release()

    def after_fork(self) -> None:
        """In a forked child: a fresh fan-out (the parent's lock and threads stay there)."""
        self.fanout = self._fanout()

    def _fanout(self) -> ControllerFanout:
        manager = self.manager
        return ControllerFanout(
            manager.service_name,
            self._client,
            manager.settings.registry_timeout,
            cancel=manager._poller.stop,
        )

    def _client(self, url: str) -> RegistryClient:
        settings = self.manager.settings
        return RegistryClient(
            url,
            timeout=settings.registry_timeout,
            max_bytes=settings.registry_max_bytes,
            cancel=self.manager._poller.stop,
        )

    @property
    def registers(self) -> bool:
        """This process registers (the plan says so, and it holds the host's lock)."""
        return self.plan.register and self.manager.config is not None and self.election.holds()

    def targets(self, registry: Registry | None) -> list[ControllerTarget]:
        found = controller_targets(registry) if registry is not None else []
        return [self.primary] + [t for t in found if t != self.primary]

    # -- the manager's reload --------------------------------------------------
    def fetch(self, client: RegistryClient, *, first: bool) -> Registry:
        """One reload of ``manager``: (register,) fetch, (register,) publish."""
        manager = self.manager
        registrar = manager._registrar
        registers = self.registers  # works the plan out (the registrar needs it)
        won = self.election.take_news() and not first
        if registers and first and self.plan.mode == "manual":
            registrar.register(client)  # fails the start when refused, as before
        registry = client.get_registry(manager.env_code, manager.service_name, manager.service_type)
        if registers and not first and (won or registrar.should_register_again(registry)):
            if won:
                logger.info("this process takes over the host registration of %r",
                            manager.service_name)  # fmt: skip
            if self.plan.mode == "manual":  # as before: a refusal is this reload's error
                registrar.register(client)
                registry = client.get_registry(
                    manager.env_code, manager.service_name, manager.service_type
                )
                self._spread(registry, skip_primary=True)
            else:  # host mode: in the background, a refusal never fails a reload
                self._spread(registry, skip_primary=False)
        manager._publish(registry)
        if first:
            self._announce(registry, registers)
            if registers:
                self._spread(registry, skip_primary=self.plan.mode == "manual")
        return registry

    def _spread(self, registry: Registry, *, skip_primary: bool) -> None:
        targets = self.targets(registry)
        if skip_primary:
            targets = targets[1:]
        if targets:
            self.fanout.send(targets, self.manager._registrar.body)
        self._registered_once = True

    def api_list_changed(self) -> None:
        """The app's routes became known after the first registration: send them."""
        manager = self.manager
        if not self._registered_once or not self.registers:
            return
        try:
            registry = manager.registry
        except Exception:
            registry = None
        self.fanout.send(self.targets(registry), manager._registrar.body)

    def _announce(self, registry: Registry, registers: bool) -> None:
        if self._announced:
            return
        self._announced = True
        manager = self.manager
        config = manager.config
        maint: Any = None
        if config is not None:
            try:
                maint = maintenance_port(manager.settings, config, registry.maintenance_inc)
            except Exception:
                maint = "(out of range)"
        if not self.plan.register:
            where = "nowhere"
        elif manager.config is None:
            where = "nowhere (no Config)"
        elif not registers:
            where = "nowhere from this process (a sibling worker registers for the host)"
        else:
            where = ", ".join(str(t) for t in self.targets(registry))
        logger.info(
            "deployment of %r: %s; maintenance port %s; registers with: %s",
            manager.service_name,
            self.plan.describe(),
            maint,
            where,
        )
