"""``POST /register`` (manual and host deployment), and registering again when not listed.

The body is :meth:`Config.registration_body` with what the deployment plan
(:mod:`soajs.registry.deployment`) decides: the advertised ``ip``, ``mw``
(true only with ``SOAJS_DEPLOY_MANUAL``), ``portHost`` (the data port) and
``apiList`` (the app's routes, :mod:`soajs.apilist`, unless the Config has one).

A control plane restarted with an empty memory no longer lists the service:
it registers again. A control plane that *never* lists it (it accepts the
registration and forgets it, or filters the service out) must not cost a
registration and a WARNING on every poll: registrations back off
exponentially (up to :data:`MAX_REREGISTER_BACKOFF` seconds) and one WARNING
is logged, then one line when the service is listed again, with the counts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from soajs.observability.instrument import registration

if TYPE_CHECKING:
    from soajs.config import Config
    from soajs.models.registry import Registry
    from soajs.registry.client import RegistryClient
    from soajs.registry.deployment import DeploymentPlan

__all__ = ["Registrar"]

logger = logging.getLogger("soajs.registry")

#: Longest wait between two registrations while the control plane does not list the service.
MAX_REREGISTER_BACKOFF = 600.0


class Registrar:
    """Registers one service and decides when to register it again. Worker-thread state."""

    def __init__(self, service_name: str, config: Config | None, srv_ip: str | None) -> None:
        self.service_name = service_name
        self.config = config
        self.srv_ip = srv_ip
        self.unlisted = 0  # polls in a row that did not list the service
        self.attempts = 0  # registrations made meanwhile
        self._next_attempt = 0.0
        #: Set by the manager: the mode, ip, ports and ``mw`` of the registration.
        self.plan: DeploymentPlan | None = None
        #: The app's routes (``{l, v, m, group?}``): a list, or a function the middleware
        #: gives once it finds the app (called for every body: routes added later count).
        self.api_list: list[dict[str, Any]] | Callable[[], Any] | None = None

    def body(self) -> dict[str, Any]:
        """The ``POST /register`` body (a new dict every call)."""
        assert self.config is not None
        plan = self.plan
        ip = self.config.ip or (plan.ip if plan is not None else None) or self.srv_ip
        body = self.config.registration_body(ip=ip)
        if plan is not None:
            body["mw"] = plan.mw
            if plan.data_port is not None:
                body["portHost"] = plan.data_port
        if "apiList" not in body and self.api_list is not None:
            entries = self._api_entries()
            if entries is not None:
                body["apiList"] = entries
        return body

    def _api_entries(self) -> list[dict[str, Any]] | None:
        source = self.api_list
        try:
            entries = source() if callable(source) else source
            return None if entries is None else [dict(entry) for entry in entries]
        except Exception as exc:  # a route table changing under us: no apiList this time
            logger.debug("apiList not built for %r (%s)", self.service_name, exc)
            return None

    def register(self, client: RegistryClient) -> Any:
        """``POST /register`` now; returns the envelope's ``data``."""
        body = self.body()
        with registration(self.service_name):  # metrics and a span (observability)
            data = client.register(body)
        logger.info(
            "registered %r v%s at %s:%s with the control plane",
            body["name"],
            body["version"],
            body["ip"],
            body["port"],
            extra={"soajs_event": "registered", "soajs_service": self.service_name},
        )
        return data

    def is_listed(self, registry: Registry) -> bool:
        if self.service_name in registry.services:
            return True
        daemons = (registry.model_extra or {}).get("daemons")
        return isinstance(daemons, dict) and self.service_name in daemons

    def should_register_again(self, registry: Registry) -> bool:
        """After a poll: True when the service is not listed and it is time to register again."""
        if self.is_listed(registry):
            if self.unlisted:
                logger.info(
                    "control plane lists %r again after %d poll%s without it (%d registration%s)",
                    self.service_name,
                    self.unlisted,
                    "" if self.unlisted == 1 else "s",
                    self.attempts,
                    "" if self.attempts == 1 else "s",
                )
            self.unlisted = self.attempts = 0
            self._next_attempt = 0.0
            return False
        self.unlisted += 1
        now = time.monotonic()
        if now < self._next_attempt:
            logger.debug(
                "control plane still does not list %r (%d polls); next registration in %.0fs",
                self.service_name,
                self.unlisted,
                self._next_attempt - now,
            )
            return False
        self.attempts += 1
        self._next_attempt = now + min(MAX_REREGISTER_BACKOFF, 2.0**self.attempts)
        if self.attempts == 1:
            logger.warning(
                "control plane does not list %r (restarted with an empty registry?): "
                "registering again; while it is not listed, registrations back off up to "
                "%.0fs and are logged at DEBUG",
                self.service_name,
                MAX_REREGISTER_BACKOFF,
            )
        else:
            logger.debug(
                "control plane still does not list %r after %d polls: registration %d",
                self.service_name,
                self.unlisted,
                self.attempts,
            )
        return True

    def after_outage(self) -> None:
        """An outage ended: the control plane may have restarted; register at once."""
        self._next_attempt = 0.0
