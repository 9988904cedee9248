"""How calls are made: timeouts and retries (tenacity strategies, composed here).

Retries, by default:

* only for idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE); a POST or
  PATCH is retried only when the caller passes ``idempotent=True``;
* on transport failures (refused, reset, dropped, timed out) and on
  502/503/504 answers;
* at most ``attempts`` requests, and never past ``total`` seconds: a wait
  that would end after it is not started (the call's wall-clock
  ``deadline``, :mod:`~soajs.connector.deadline`, bounds everything too);
* waiting the answer's ``Retry-After`` when it has one (seconds or an HTTP
  date), else exponential backoff with full jitter, ``backoff`` * 2**n
  capped at ``max_backoff``.

When retries run out on a 5xx answer, the last answer is returned (the
caller checks ``status_code``); on a transport failure,
:class:`~soajs.connector.errors.ServiceUnavailableError` is raised.
"""

from __future__ import annotations

import email.utils
import functools
import time
from dataclasses import dataclass, field

import httpx
import tenacity

__all__ = [
    "DEFAULT_TIMEOUT",
    "IDEMPOTENT_METHODS",
    "RETRYABLE_ERRORS",
    "RetryPolicy",
    "parse_retry_after",
]

#: Connect fast (a dead host should fail over quickly); give answers time.
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=2.0)
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
#: Transport failures worth another try; PoolTimeout is local congestion, not the target's fault.
RETRYABLE_ERRORS: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)
#: The request surely never reached the server: safe to send elsewhere, whatever the method.
NOT_SENT_ERRORS: tuple[type[Exception], ...] = (httpx.ConnectError, httpx.ConnectTimeout)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retry settings; ``RetryPolicy(attempts=1)`` turns retries off."""

    attempts: int = 3
    total: float = 10.0
    backoff: float = 0.1
    max_backoff: float = 2.0
    statuses: frozenset[int] = field(default_factory=lambda: frozenset({502, 503, 504}))
    methods: frozenset[str] = IDEMPOTENT_METHODS

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be >= 1, got {self.attempts}")
        if self.total <= 0:
            raise ValueError(f"total must be > 0 seconds, got {self.total}")

    def stop(self) -> tenacity.stop.stop_base:
        return _strategies(self)[0]

    def wait(self) -> tenacity.wait.wait_base:
        return _strategies(self)[1]

    def retry(self) -> tenacity.retry_base:
        """Retry transport failures and the ``statuses`` (for idempotent calls only)."""
        return _strategies(self)[2]


@functools.lru_cache(maxsize=64)
def _strategies(
    policy: RetryPolicy,
) -> tuple[tenacity.stop.stop_base, tenacity.wait.wait_base, tenacity.retry_base]:
    # tenacity strategies are stateless: built once per policy, shared by every call
    statuses = policy.statuses
    return (
        tenacity.stop_after_attempt(policy.attempts) | tenacity.stop_before_delay(policy.total),
        WaitRetryAfter(
            tenacity.wait_random_exponential(multiplier=policy.backoff, max=policy.max_backoff)
        ),
        tenacity.retry_if_exception_type(RETRYABLE_ERRORS)
        | tenacity.retry_if_result(
            lambda r: isinstance(r, httpx.Response) and r.status_code in statuses
        ),
    )


class WaitRetryAfter(tenacity.wait.wait_base):
    """The answer's ``Retry-After`` when it has one, else ``fallback``."""

    def __init__(self, fallback: tenacity.wait.wait_base) -> None:
        self.fallback = fallback

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        outcome = retry_state.outcome
        if outcome is not None and not outcome.failed:
            response = outcome.result()
            if isinstance(response, httpx.Response):
                delay = parse_retry_after(response.headers.get("retry-after"))
                if delay is not None:
                    return delay
        return float(self.fallback(retry_state))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait for a ``Retry-After`` value (delta-seconds or HTTP date); ``None`` if bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
