"""Log discipline for the control plane: one WARNING per outage or storm, then counts.

An outage is logged when it starts (WARNING, with what is kept meanwhile)
and when it ends (WARNING: how long, how many failed calls were not logged).
The failures in between go to DEBUG. A control plane that flaps (up, down,
up...) is a storm, not a series of outages: an outage that starts within
``window`` seconds of the last WARNING is logged at DEBUG and counted, and
the next WARNING says how many were not logged.

Not thread-safe on its own: the registry manager's worker thread is the only
caller (a reload requested from any thread runs there).
"""

from __future__ import annotations

import logging
import time

__all__ = ["OutageLog", "probes_while_degraded"]

#: Seconds within which a new outage is part of the same storm.
STORM_WINDOW = 60.0


class OutageLog:
    """The outage state of one manager's control plane, and its log lines."""

    def __init__(
        self,
        logger: logging.Logger,
        service: str,
        control_plane: str,
        *,
        window: float = STORM_WINDOW,
    ) -> None:
        self.logger = logger
        self.service = service
        self.control_plane = control_plane
        self.window = window
        self.active = False
        self.failures = 0  # failed calls of the current outage
        self.started = 0.0
        self._warned = False  # the current outage was logged at WARNING
        self._last_warning = -float("inf")
        self._quiet_outages = 0  # outages logged at DEBUG only, since the last WARNING

    def failure(self, error: BaseException, kept: str, next_try: float | None) -> None:
        """A call failed; ``kept`` says what readers keep meanwhile."""
        now = time.monotonic()
        retry = f"; next try in {next_try:.1f}s" if next_try is not None else ""
        if self.active:
            self.failures += 1
            self.logger.debug(
                "registry poll of %r failed again (failure %d): %s%s",
                self.service,
                self.failures,
                error,
                retry,
            )
            return
        self.active, self.failures, self.started = True, 1, now
        if now - self._last_warning >= self.window:
            self._warned, self._last_warning = True, now
            quiet = self._take_quiet()
            self.logger.warning(
                "registry poll of %r failed: %s; %s; retrying with backoff%s "
                "(further failures are counted, not logged)%s",
                self.service,
                error,
                kept,
                retry,
                quiet,
                extra={"soajs_event": "registry_outage", "soajs_service": self.service},
            )
        else:
            self._warned = False
            self._quiet_outages += 1
            self.logger.debug(
                "registry poll of %r failed: %s (the control plane flaps; not logged at "
                "WARNING again within %.0fs)",
                self.service,
                error,
                self.window,
            )

    def degraded_start(self, error: BaseException, sibling: int | None, readiness: str) -> None:
        """The first load failed and the manager serves without a registry: one WARNING
        (``sibling``: the pid of a worker of this server that has one, else start_degraded)."""
        why = (
            "start_degraded"
            if sibling is None
            else f"another worker of this server, pid {sibling}, serves with a good registry: "
            "this worker starts degraded instead of stopping the server"
        )
        self.logger.warning(
            "registry of %r not loaded at start (%s); serving WITHOUT a registry (%s), "
            "retrying in the background: %s",
            self.service,
            error,
            why,
            probes_while_degraded(readiness),
            extra={"soajs_event": "registry_degraded_start", "soajs_service": self.service},
        )
        self.started_elsewhere()

    def started_elsewhere(self) -> None:
        """An outage already logged at WARNING by the caller (a degraded start)."""
        if not self.active:
            now = time.monotonic()
            self.active, self.failures, self.started = True, 1, now
            self._warned, self._last_warning = True, now

    def success(self) -> None:
        """A call succeeded: end the outage, if there was one."""
        if not self.active:
            return
        self.active = False
        took = time.monotonic() - self.started
        suppressed = self.failures - 1
        if self._warned:
            self.logger.warning(
                "control plane %s reachable again after %.1fs; %d failed call%s not logged; "
                "registry of %r reloaded",
                self.control_plane,
                took,
                suppressed,
                "" if suppressed == 1 else "s",
                self.service,
                extra={
                    "soajs_event": "registry_recovered",
                    "soajs_service": self.service,
                    "soajs_suppressed": suppressed,
                },
            )
        else:
            self.logger.debug(
                "control plane %s back after %.1fs (%d failures)",
                self.control_plane,
                took,
                self.failures,
            )

    def _take_quiet(self) -> str:
        quiet, self._quiet_outages = self._quiet_outages, 0
        if not quiet:
            return ""
        return f"; {quiet} short outage{'s' if quiet > 1 else ''} before this one not logged"


def probes_while_degraded(readiness: str) -> str:
    """What the health paths answer while no registry is loaded (``readiness``: its path)."""
    if readiness == "/heartbeat":
        return (
            "/heartbeat answers 200 meanwhile (it is both the liveness and the readiness path "
            "here; set maintenance.readiness, e.g. '/ready', for a readiness path that "
            "answers 503 until the registry loads)"
        )
    return f"{readiness} (readiness) answers 503 until it loads, /heartbeat (liveness) answers 200"
