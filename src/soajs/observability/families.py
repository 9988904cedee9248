"""Metric families: this process's counts at scrape time, summed across workers.

A family is plain data (JSON-able, no dependency): its type, help text, how
two processes' values combine (``sum``, or ``max`` for an age), and its
samples keyed by ``(suffix, labels)``. `local` reads this process's
counts and gauges; `merge` adds another worker's
(`soajs.observability.workers`); `soajs.observability.export`
turns the result into ``prometheus_client`` metrics.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from soajs.context.reasons import Reason
from soajs.observability import counters

__all__ = ["Families", "Family", "local", "merge"]

Labels = tuple[tuple[str, str], ...]
SampleKey = tuple[str, Labels]


class Family:
    """One metric: ``kind`` counter/gauge/histogram, ``agg`` sum/max across processes."""

    __slots__ = ("agg", "doc", "kind", "name", "samples")

    def __init__(self, name: str, kind: str, doc: str, agg: str = "sum") -> None:
        self.name = name
        self.kind = kind
        self.doc = doc
        self.agg = agg
        self.samples: dict[SampleKey, float] = {}

    def add(self, suffix: str, labels: Labels, value: float) -> None:
        key = (suffix, labels)
        old = self.samples.get(key)
        if old is None:
            self.samples[key] = value
        elif self.agg == "max":
            self.samples[key] = max(old, value)
        else:
            self.samples[key] = old + value


Families = dict[str, Family]

_IGNORED = {Reason.UNTRUSTED, Reason.PUBLIC_SERVICE, Reason.PROXY_REWRITTEN_PEER}
#: name -> (kind, help, agg): every family this library exports.
SPECS: dict[str, tuple[str, str, str]] = {
    "soajs_context_headers": (
        "counter",
        "soajsinjectobj headers read, by outcome (accepted, refused, ignored) and reason",
        "sum",
    ),
    "soajs_context_cache_hits": ("counter", "headers answered from the context cache", "sum"),
    "soajs_context_cache_entries": ("gauge", "contexts held by the context caches", "sum"),
    "soajs_context_cache_bytes": ("gauge", "bytes charged to the context caches", "sum"),
    "soajs_connector_calls": (
        "counter",
        "connector calls by target service, route (mesh/gateway) and outcome",
        "sum",
    ),
    "soajs_connector_retries": ("counter", "connector attempts beyond the first", "sum"),
    "soajs_connector_failovers": ("counter", "connector calls failed over to the gateway", "sum"),
    "soajs_connector_call_duration_seconds": (
        "histogram",
        "connector call latency, retries included",
        "sum",
    ),
    "soajs_connector_breaker_state": (
        "gauge",
        "processes whose circuit breaker for the target is in this state",
        "sum",
    ),
    "soajs_connector_breaker_transitions": (
        "counter",
        "circuit breaker transitions, by target and the state entered",
        "sum",
    ),
    "soajs_registry_polls": ("counter", "control-plane registry loads by outcome", "sum"),
    "soajs_registry_reload_duration_seconds": (
        "histogram",
        "duration of a registry load from the control plane",
        "sum",
    ),
    "soajs_registry_snapshot_age_seconds": (
        "gauge",
        "age of the registry in use (the oldest across workers)",
        "max",
    ),
    "soajs_registry_ready": ("gauge", "processes with a registry loaded", "sum"),
    "soajs_registry_registrations": (
        "counter",
        "registrations with the control plane by outcome",
        "sum",
    ),
    "soajs_metrics_processes": ("gauge", "processes whose counts this answer sums", "sum"),
}


def empty() -> Families:
    return {name: Family(name, *spec) for name, spec in SPECS.items()}


def _outcome(reason: Reason) -> str:
    if reason is Reason.OK:
        return "accepted"
    return "ignored" if reason in _IGNORED else "refused"


def local() -> Families:
    """This process's families now (counts and gauges)."""
    fams = empty()
    fams["soajs_metrics_processes"].add("", (), 1.0)
    headers = counters.HEADERS
    if headers is not None:
        snapshot = list(headers)
        hits = fams["soajs_context_cache_hits"]
        seen = fams["soajs_context_headers"]
        for reason, index in counters.REASON_INDEX.items():
            parsed, cached = snapshot[index], snapshot[index + 1]
            if reason is Reason.MISSING or not (parsed or cached):
                continue
            labels = (("outcome", _outcome(reason)), ("reason", reason.value))
            seen.add("_total", labels, float(parsed + cached))
            if cached:
                hits.add("_total", (("reason", reason.value),), float(cached))
    _stats(fams)
    _gauges(fams)
    return fams


def _stats(fams: Families) -> None:
    stats = counters.stats
    for name, labelled in (
        ("soajs_connector_calls", stats.calls),
        ("soajs_connector_retries", stats.retries),
        ("soajs_connector_failovers", stats.failovers),
        ("soajs_connector_breaker_transitions", stats.transitions),
        ("soajs_registry_polls", stats.polls),
        ("soajs_registry_registrations", stats.registrations),
    ):
        family = fams[name]
        for key, value in labelled.items():
            family.add("_total", tuple(zip(labelled.labels, key, strict=True)), value)
    for name, hist in (
        ("soajs_connector_call_duration_seconds", stats.latency),
        ("soajs_registry_reload_duration_seconds", stats.reloads),
    ):
        family = fams[name]
        for key, row in hist.rows():
            labels = tuple(zip(hist.labels, key, strict=True))
            running = 0.0
            for edge, count in zip(hist.buckets, row, strict=False):
                running += count
                family.add("_bucket", (*labels, ("le", _le(edge))), running)
            running += row[len(hist.buckets)]
            family.add("_bucket", (*labels, ("le", "+Inf")), running)
            family.add("_count", labels, running)
            family.add("_sum", labels, row[-1])


def _le(edge: float) -> str:
    return repr(float(edge))


def _gauges(fams: Families) -> None:
    entries = size = 0
    for resolver in _members(counters.resolvers):
        cache = getattr(resolver, "cache", None)
        if cache is not None:
            entries += len(cache)
            size += cache.bytes
    fams["soajs_context_cache_entries"].add("", (), float(entries))
    fams["soajs_context_cache_bytes"].add("", (), float(size))
    now = datetime.now(UTC)
    for manager in _members(counters.managers)[: counters.MAX_TARGETS]:
        if getattr(manager, "is_stopped", False):
            continue
        service = (("service", str(getattr(manager, "service_name", "?"))[:100]),)
        ready = bool(getattr(manager, "is_ready", False))
        fams["soajs_registry_ready"].add("", service, 1.0 if ready else 0.0)
        loaded = getattr(manager, "last_loaded_at", None)
        if isinstance(loaded, datetime):
            age = max(0.0, (now - loaded).total_seconds())
            fams["soajs_registry_snapshot_age_seconds"].add("", service, age)
    _breakers(fams["soajs_connector_breaker_state"])


def _members(group: Any) -> list[Any]:
    """A weak set's members, even while another thread adds to it."""
    for _ in range(3):
        try:
            return list(group)
        except RuntimeError:  # changed size during iteration
            continue
    return []


def _breakers(family: Family) -> None:
    from soajs.connector.breaker import breakers

    states = breakers.snapshot()
    # open ones first, so the cap never hides an open circuit behind closed ones
    ordered = sorted(states.values(), key=lambda s: (s.state == "closed", s.target))
    for index, state in enumerate(ordered):
        target = state.target[:100] if index < counters.MAX_TARGETS else counters.OTHER
        for name in ("closed", "open", "half-open"):
            value = 1.0 if state.state == name else 0.0
            family.add("", (("target", target), ("state", name.replace("-", "_"))), value)


def merge(into: Families, other: Families, *, counts_only: bool = False) -> None:
    """Add ``other``'s samples to ``into`` (gauges skipped with ``counts_only``)."""
    for name, family in other.items():
        target = into.get(name)
        if target is None or target.kind != family.kind:
            continue
        if counts_only and family.kind == "gauge":
            continue
        for (suffix, labels), value in family.samples.items():
            target.add(suffix, labels, value)


def to_json(fams: Families) -> dict[str, Any]:
    return {
        "at": time.time(),
        "families": {
            name: [[s, [list(p) for p in labels], v] for (s, labels), v in fam.samples.items()]
            for name, fam in fams.items()
            if fam.samples
        },
    }


def from_json(data: Any, max_samples: int = 20_000) -> Families:
    """Families of a worker's file; anything malformed is skipped (never raises)."""
    fams = empty()
    if not isinstance(data, dict) or not isinstance(data.get("families"), dict):
        return fams
    budget = max_samples
    for name, samples in data["families"].items():
        family = fams.get(name)
        if family is None or not isinstance(samples, list):
            continue
        for sample in samples[:budget]:
            budget -= 1
            try:
                suffix, pairs, value = sample
                labels = tuple((str(k)[:100], str(v)[:100]) for k, v in pairs[:8])
                if suffix not in ("", "_total", "_bucket", "_count", "_sum"):
                    continue
                family.add(str(suffix), labels, float(value))
            except (TypeError, ValueError):
                continue
        if budget <= 0:
            break
    return fams
