"""Why a request has no context, and logging that reason without flooding.

A reason is logged at WARNING once per distinct reason per interval, and
never with the header's content (it carries keys and user data).
"""

from __future__ import annotations

import logging
import threading
import time
from enum import StrEnum

__all__ = ["Reason", "ReasonLog"]

logger = logging.getLogger("soajs.context")


class Reason(StrEnum):
    """The outcome of reading ``soajsinjectobj`` for one request."""

    OK = "ok"
    MISSING = "missing"  # no header: an ordinary request, not an error
    UNTRUSTED = "untrusted_peer"
    PUBLIC_SERVICE = "public_service"
    DUPLICATE = "duplicate_header"
    TOO_LARGE = "too_large"
    BAD_PERCENT_ENCODING = "bad_percent_encoding"
    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"
    NOT_AN_OBJECT = "not_an_object"
    TOO_DEEP = "too_deep"
    NON_FINITE_NUMBER = "non_finite_number"
    NO_TENANT = "no_tenant"
    BAD_SHAPE = "bad_shape"

    @property
    def is_error(self) -> bool:
        """True when the header was present but not usable."""
        return self not in (Reason.OK, Reason.MISSING)


_MESSAGES: dict[Reason, str] = {
    Reason.UNTRUSTED: "soajsinjectobj from a peer outside trusted_gateways: ignored",
    Reason.PUBLIC_SERVICE: "soajsinjectobj sent to a public service (extKeyRequired false): "
    "ignored, the gateway does not vouch for it",
    Reason.DUPLICATE: "soajsinjectobj sent more than once: ignored",
    Reason.TOO_LARGE: "soajsinjectobj larger than the size cap: ignored",
    Reason.BAD_PERCENT_ENCODING: "soajsinjectobj is not valid percent-encoding: ignored",
    Reason.NOT_UTF8: "soajsinjectobj is not UTF-8: ignored",
    Reason.NOT_JSON: "soajsinjectobj is not JSON: ignored",
    Reason.NOT_AN_OBJECT: "soajsinjectobj is not a JSON object: ignored",
    Reason.TOO_DEEP: "soajsinjectobj is nested too deeply: ignored",
    Reason.NON_FINITE_NUMBER: "soajsinjectobj contains NaN or Infinity: ignored",
    Reason.NO_TENANT: "soajsinjectobj has no tenant id and code: ignored",
    Reason.BAD_SHAPE: "soajsinjectobj does not have the expected shape: ignored",
}


class ReasonLog:
    """Logs each distinct error reason at most once per ``interval`` seconds."""

    def __init__(self, interval: float = 60.0, log: logging.Logger = logger) -> None:
        self.interval = interval
        self.log = log
        self._last: dict[tuple[Reason, str], float] = {}
        self._lock = threading.Lock()

    def __call__(self, reason: Reason, detail: str = "") -> None:
        if not reason.is_error:
            return
        now = time.monotonic()
        key = (reason, detail)
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.interval:
                return
            if len(self._last) > 256:  # details are bounded, but stay bounded anyway
                self._last.clear()
            self._last[key] = now
        suffix = f" ({detail})" if detail else ""
        self.log.warning(
            "%s%s [reason=%s; logged once per %gs]",
            _MESSAGES.get(reason, reason.value),
            suffix,
            reason.value,
            self.interval,
        )
