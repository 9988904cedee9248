"""The collector in the application's own registry, served by a real uvicorn next to
the app: registering twice exposes each family once, and hostile label values (quotes,
newlines, backslashes, unicode, 10 KB, 100,000 distinct) come out escaped and capped."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client import CollectorRegistry, make_asgi_app
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.routing import Mount

from soajs.observability import counters, register_collector
from tests.integration.servers import uvicorn_server

HOSTILE = ['a"b', "line\nbreak", "back\\slash", "ünï€😀", "x" * 10240, '{}=,"']


def _scrape(registry: CollectorRegistry) -> list[Any]:
    app = Starlette(routes=[Mount("/metrics", make_asgi_app(registry))])
    with uvicorn_server(app) as served:
        answer = httpx.get(f"http://127.0.0.1:{served.port}/metrics/", timeout=10)
    assert answer.status_code == 200
    return list(text_string_to_metric_families(answer.text))


def test_registering_twice_exposes_each_family_once() -> None:
    counters.stats.calls.add(("b", "mesh", "ok"))
    registry = CollectorRegistry()
    first = register_collector(registry)
    assert register_collector(registry) is first
    assert register_collector(registry, all_workers=False) is first
    found = _scrape(registry)
    names = [family.name for family in found]
    assert "soajs_connector_calls" in names
    assert len(names) == len(set(names))


def test_hostile_label_values_are_escaped_and_capped() -> None:
    counters.stats.calls.clear()
    for name in HOSTILE:
        counters.stats.calls.add((name, "mesh", "ok"))
    for i in range(100_000):
        counters.stats.calls.add((f"svc{i}", "gateway", "ok"))
    registry = CollectorRegistry()
    register_collector(registry, all_workers=False)
    (calls,) = [f for f in _scrape(registry) if f.name == "soajs_connector_calls"]
    services = {s.labels["service"] for s in calls.samples}
    assert len(services) == counters.MAX_TARGETS + 1  # and "other"
    for name in HOSTILE:
        assert name[:100] in services
    other = [s for s in calls.samples if s.labels["service"] == "other"]
    assert sum(s.value for s in other) == 100_000 - (counters.MAX_TARGETS - len(HOSTILE))
    keys = [(s.name, tuple(sorted(s.labels.items()))) for s in calls.samples]
    assert len(keys) == len(set(keys))
    counters.stats.calls.clear()
