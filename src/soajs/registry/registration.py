"""Manual deployment: ``POST /register``, and registering again when the service is not listed.

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
from typing import TYPE_CHECKING, Any

from soajs.observability.instrument import registration

if TYPE_CHECKING:
    from soajs.config import Config
    from soajs.models.registry import Registry
    from soajs.registry.client import RegistryClient

__all__ = ["Registrar"]

logger = logging.getLogger("soajs.registry")

#: Longest wait between two registrations while the control plane does not list the service.
MAX_REREGISTER_BACKOFF = 600.0


class Registrar:
    """Registers one service and decides when to register it again. Worker-thread state."""

    def __init__(self, service_name: str, config: Config | None, srv_ip: str) -> None:
        self.service_name = service_name
        self.config = config
        self.srv_ip = srv_ip
        self.unlisted = 0  # polls in a row that did not list the service
        self.attempts = 0  # registrations made meanwhile
        self._next_attempt = 0.0

    def register(self, client: RegistryClient) -> Any:
        """``POST /register`` now; returns the envelope's ``data``."""
        assert self.config is not None
        body = self.config.registration_body(ip=self.config.ip or self.srv_ip)
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
