"""Prometheus exposition: a custom collector, and the ``/metrics`` answer.

``prometheus_client`` (extra ``metrics``) is imported only here, and only
when a scrape or a registration asks for it: without it the counts are
still kept (cheaply) and ``/metrics`` answers 501 saying what to install.

In your own registry (e.g. next to prometheus-fastapi-instrumentator):

```python
from prometheus_client import REGISTRY
from soajs.observability import register_collector
register_collector(REGISTRY)   # all workers summed, as on /metrics
```

The answer is bounded: families past `MAX_BYTES` of text are left out
(a comment says how many); the label sets are bounded already
(`soajs.observability.counters`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any

from soajs.observability import families, workers

__all__ = [
    "CONTENT_TYPE",
    "MAX_BYTES",
    "METRICS_PATH",
    "SoajsCollector",
    "available",
    "metrics_answer",
    "register_collector",
]

logger = logging.getLogger("soajs.observability")

#: Where the maintenance listener (and, when asked, the service port) answers.
METRICS_PATH = "/metrics"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Largest ``/metrics`` body (bytes); whole families past it are left out.
MAX_BYTES = 1024 * 1024

#: Scrapes built at once; more are answered 503 at once (the answer reads files).
MAX_CONCURRENT = 2
_FLIGHT = threading.BoundedSemaphore(MAX_CONCURRENT)

_MISSING = (
    b"prometheus-client is not installed: pip install 'soajs-python[metrics]' "
    b"to expose the SOAJS metrics\n"
)


def available() -> bool:
    """True when ``prometheus_client`` can be imported."""
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        return False
    return True


def _to_metric(family: families.Family) -> Any:
    from prometheus_client.metrics_core import Metric

    metric = Metric(family.name, family.doc, family.kind)
    for (suffix, labels), value in family.samples.items():  # buckets in ascending order
        metric.add_sample(family.name + suffix, dict(labels), value)
    return metric


class SoajsCollector:
    """A ``prometheus_client`` collector of the SOAJS families.

    ``all_workers=True`` (the default) sums this process with its sibling
    workers (`soajs.observability.workers`); ``False`` reports this
    process only.
    """

    def __init__(self, all_workers: bool = True) -> None:
        self.all_workers = all_workers

    def describe(self) -> list[Any]:
        return []  # no collect() at registration time

    def collect(self) -> Iterator[Any]:
        fams = workers.aggregate() if self.all_workers else families.local()
        for family in fams.values():
            if family.samples:
                yield _to_metric(family)


_registered: weakref.WeakKeyDictionary[Any, SoajsCollector] = weakref.WeakKeyDictionary()
_registering = threading.Lock()


def register_collector(registry: Any = None, *, all_workers: bool = True) -> SoajsCollector:
    """Register the SOAJS families in ``registry`` (default ``prometheus_client.REGISTRY``).

    Idempotent per registry: a second call returns the collector registered first
    (whatever its ``all_workers``), so the families are never exposed twice.
    """
    if registry is None:
        from prometheus_client import REGISTRY

        registry = REGISTRY
    with _registering:
        try:
            found = _registered.get(registry)
        except TypeError:  # not weakly referenceable: not tracked
            found = None
        if found is not None:
            return found
        collector = SoajsCollector(all_workers)
        registry.register(collector)
        with contextlib.suppress(TypeError):
            _registered[registry] = collector
        return collector


def metrics_answer() -> tuple[int, bytes, str]:
    """``(status, body, content type)`` of ``GET /metrics``; never raises."""
    try:
        from prometheus_client.exposition import generate_latest
        from prometheus_client.registry import CollectorRegistry
    except ImportError:
        return 501, _MISSING, "text/plain; charset=utf-8"
    if not _FLIGHT.acquire(blocking=False):  # a storm of scrapes: a few at a time, never queued
        return 503, b"metrics busy, try again\n", "text/plain; charset=utf-8"
    try:
        fams = workers.aggregate()
        parts: list[bytes] = []
        size = left_out = 0
        for family in fams.values():
            if not family.samples:
                continue
            registry = CollectorRegistry(auto_describe=False)
            registry.register(_One(_to_metric(family)))
            text = generate_latest(registry)
            if size + len(text) > MAX_BYTES:
                left_out += 1
                continue
            size += len(text)
            parts.append(text)
        if left_out:
            parts.append(f"# soajs: {left_out} families left out (size cap)\n".encode())
        return 200, b"".join(parts), CONTENT_TYPE
    except Exception:
        _failed()
        return 500, b"metrics unavailable\n", "text/plain; charset=utf-8"
    finally:
        _FLIGHT.release()


#: Seconds between two logged /metrics failures (the ones between are counted).
FAILURE_LOG_INTERVAL = 60.0
_failure_log = [0.0, 0]  # [time of the last line, failures since]


def _failed() -> None:
    """Log a failed build with its traceback, at most once per `FAILURE_LOG_INTERVAL`."""
    now = time.monotonic()
    with _registering:
        last, count = _failure_log
        if last and now - last < FAILURE_LOG_INTERVAL:
            _failure_log[1] = count + 1
            return
        _failure_log[:] = [now, 0]
    more = f" ({count} more since the last line)" if count else ""
    logger.exception(
        "building the /metrics answer failed%s", more, extra={"soajs_event": "metrics_failed"}
    )


class _One:
    def __init__(self, metric: Any) -> None:
        self.metric = metric

    def collect(self) -> Iterator[Any]:
        yield self.metric
