"""Why a request has no context, and logging that reason without flooding.

A reason is logged at WARNING at most once per reason per interval, whatever
its detail (an error position, a byte count: they change with every request);
the next line for that reason says how many were suppressed since the last
one. So a storm of bad headers costs one line per reason per interval, never
one per request. Nothing is ever logged with the header's content (it carries
keys and user data).
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
    INTEGER_TOO_LONG = "integer_too_long"
    TOO_MANY_ELEMENTS = "too_many_elements"
    TOO_MANY_INTERCONNECT = "too_many_interconnect"
    PROXY_REWRITTEN_PEER = "proxy_rewritten_peer"
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
    Reason.NON_FINITE_NUMBER: "soajsinjectobj contains NaN, Infinity or a number beyond the "
    "float range: ignored",
    Reason.INTEGER_TOO_LONG: "soajsinjectobj contains an integer with too many digits: ignored",
    Reason.TOO_MANY_ELEMENTS: "soajsinjectobj holds too many JSON values: ignored",
    Reason.TOO_MANY_INTERCONNECT: "soajsinjectobj lists too many awareness.interConnect "
    "entries: ignored",
    Reason.PROXY_REWRITTEN_PEER: "soajsinjectobj on a request whose peer the server took from "
    "X-Forwarded-For, so trusted_gateways cannot judge the real one: ignored. Keep the transport "
    "peer: uvicorn --no-proxy-headers or --forwarded-allow-ips='' (gunicorn: "
    "forwarded_allow_ips=''), or werkzeug ProxyFix (its original REMOTE_ADDR is used), "
    "plus trusted_proxy_hops for proxies in front; see docs/middleware.md#trust",
    Reason.NO_TENANT: "soajsinjectobj has no tenant id and code: ignored",
    Reason.BAD_SHAPE: "soajsinjectobj does not have the expected shape: ignored",
}


class ReasonLog:
    """Logs each error reason at most once per ``interval`` seconds, whatever its detail.

    The first occurrence is logged at once, with its detail; later ones within
    the interval are only counted, and the next line logged for that reason
    (the first one after the interval) carries that count. State is one small
    entry per :class:`Reason`: bounded whatever the traffic.
    """

    def __init__(self, interval: float = 60.0, log: logging.Logger = logger) -> None:
        self.interval = interval
        self.log = log
        # reason -> [time of the last line, occurrences suppressed since]
        self._state: dict[Reason, list[float]] = {}
        self._lock = threading.Lock()

    def __call__(self, reason: Reason, detail: str = "") -> None:
        if not reason.is_error:
            return
        now = time.monotonic()
        with self._lock:
            state = self._state.get(reason)
            if state is not None and now - state[0] < self.interval:
                state[1] += 1
                return
            suppressed = 0 if state is None else int(state[1])
            self._state[reason] = [now, 0]
        suffix = f" ({detail})" if detail else ""
        if suppressed:
            suffix += f"; {suppressed} more since the last line, not logged"
        self.log.warning(
            "%s%s [reason=%s; logged at most once per %gs]",
            _MESSAGES.get(reason, reason.value),
            suffix,
            reason.value,
            self.interval,
            extra={
                "soajs_event": "header_refused",
                "soajs_reason": reason.value,
                "soajs_suppressed": suppressed,
            },
        )
