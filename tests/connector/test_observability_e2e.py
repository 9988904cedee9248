"""Spans, traceparent, metrics and correlated logs through real servers.

A FastAPI handler under uvicorn calls service ``b`` through a recording
gateway (a real HTTP server on loopback). The SDK's in-memory exporter holds
the CLIENT span; its parent is the inbound ``traceparent`` and the gateway
receives the span's own context; ``/metrics``' text counts the call; a log
record made in the handler carries the tenant, request id and trace id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client.parser import text_string_to_metric_families

from soajs.connector import AsyncServiceConnector, aclose
from soajs.contrib.fastapi import setup
from soajs.observability import SoajsContextFilter, counters, metrics_answer
from tests.connector.loopback import Loopback, status
from tests.connector.test_propagation_e2e import header_for
from tests.integration.servers import uvicorn_server
from tests.observability.otel import sdk

TRACE = "0af7651916cd43dd8448eb211c80319c"
PARENT = "b7ad6b7169203331"
EXPORTER = InMemorySpanExporter()  # replaced by the fixture's


@pytest.fixture(scope="module", autouse=True)
def _sdk() -> Iterator[None]:
    global EXPORTER
    with sdk() as exporter:
        EXPORTER = exporter
        yield


@pytest.fixture
def records() -> Iterator[list[logging.LogRecord]]:
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    handler = Keep()
    handler.addFilter(SoajsContextFilter())
    log = logging.getLogger("test.app")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    yield seen
    log.removeHandler(handler)


def counts() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status_code, body, _ = metrics_answer()
    assert status_code == 200
    found = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_a_connector_call_is_a_client_span_under_the_inbound_trace_and_is_counted(
    servers: Callable[..., Loopback], records: list[logging.LogRecord]
) -> None:
    gateway = servers("gateway")
    app = FastAPI()
    setup(app, trusted_gateways="*", health=False)

    @app.get("/call")
    async def call() -> Any:
        logging.getLogger("test.app").info("calling b")
        answer = await AsyncServiceConnector().get("b", "/orders", version="1")
        await aclose()
        return answer.json()

    key = ("soajs_connector_calls_total",
           (("outcome", "ok"), ("route", "gateway"), ("service", "b")))  # fmt: skip
    counters.stats.calls.clear()  # a fresh label set: earlier tests may have filled its cap
    before = counts().get(key, 0.0)
    EXPORTER.clear()
    with uvicorn_server(app) as served:
        response = httpx.get(
            f"http://127.0.0.1:{served.port}/call",
            headers={
                "traceparent": f"00-{TRACE}-{PARENT}-01",
                "x-request-id": "req-42",
                "soajsinjectobj": header_for(gateway).decode(),
            },
        )
    assert response.status_code == 200, response.text
    (span,) = [s for s in EXPORTER.get_finished_spans() if s.kind is SpanKind.CLIENT]
    assert span.name == "soajs.connector b"
    assert span.context is not None and span.parent is not None
    assert f"{span.context.trace_id:032x}" == TRACE
    assert _root_parent(span) == PARENT  # through any span the framework made
    attributes = dict(span.attributes or {})
    assert attributes["soajs.service"] == "b"
    assert attributes["soajs.route"] == "gateway"
    assert attributes["soajs.attempts"] == 1
    assert attributes["soajs.failover"] is False
    assert attributes["http.response.status_code"] == 200
    # the gateway got the CLIENT span's context, not the inbound one
    (seen,) = gateway.requests
    assert seen.headers["traceparent"] == f"00-{TRACE}-{span.context.span_id:016x}-01"
    assert counts()[key] == before + 1
    (record,) = [r for r in records if r.getMessage() == "calling b"]
    assert record.soajs_trace_id == TRACE  # type: ignore[attr-defined]
    assert record.soajs_request_id == "req-42"  # type: ignore[attr-defined]
    assert record.soajs_tenant != "-"  # type: ignore[attr-defined]


def test_a_failing_call_is_an_error_span_and_a_server_error_count(
    servers: Callable[..., Loopback],
) -> None:
    gateway = servers("gateway", default=status(500))
    app = FastAPI()
    setup(app, trusted_gateways="*", health=False)

    @app.get("/call")
    async def call() -> Any:
        answer = await AsyncServiceConnector().get("b", "/orders", version="1")
        await aclose()
        return {"status": answer.status_code}

    EXPORTER.clear()
    counters.stats.calls.clear()
    with uvicorn_server(app) as served:
        response = httpx.get(
            f"http://127.0.0.1:{served.port}/call",
            headers={"soajsinjectobj": header_for(gateway).decode()},
        )
    assert response.json() == {"status": 500}
    (span,) = [s for s in EXPORTER.get_finished_spans() if s.kind is SpanKind.CLIENT]
    assert span.status.status_code is StatusCode.ERROR
    assert _root_parent(span) == ""  # no inbound traceparent: a trace of its own
    found = counts()
    key = ("soajs_connector_calls_total",
           (("outcome", "server_error"), ("route", "gateway"), ("service", "b")))  # fmt: skip
    assert found[key] >= 1


def _root_parent(span: Any) -> str:
    """The remote parent at the top of ``span``'s ancestry among the exported spans."""
    by_id = {s.context.span_id: s for s in EXPORTER.get_finished_spans() if s.context}
    while span.parent is not None and not span.parent.is_remote:
        span = by_id[span.parent.span_id]
    return "" if span.parent is None else f"{span.parent.span_id:016x}"


def test_outside_a_request_the_log_fields_are_dashes(records: list[logging.LogRecord]) -> None:
    logging.getLogger("test.app").info("idle")
    (record,) = records
    assert record.soajs_tenant == record.soajs_request_id == "-"  # type: ignore[attr-defined]
    assert record.soajs_trace_id == "-"  # type: ignore[attr-defined]


def test_a_mesh_call_sends_the_client_spans_traceparent_to_the_callee(
    servers: Callable[..., Loopback],
) -> None:
    from opentelemetry import trace

    from tests.connector.test_calls import mesh_connector

    callee = servers("b")
    gateway = servers("gateway")
    dead = f"127.0.0.1:{_free_port()}"
    EXPORTER.clear()
    with trace.get_tracer("test").start_as_current_span("server") as server:
        assert mesh_connector(gateway.address, callee.address).get("b", "/x", version="1")
        # the mesh target is down: the call fails over to the gateway, same span
        answer = mesh_connector(gateway.address, dead).get("b", "/y", version="1")
        assert answer.json()["server"] == "gateway"
    trace_id = f"{server.get_span_context().trace_id:032x}"
    spans = [s for s in EXPORTER.get_finished_spans() if s.kind is SpanKind.CLIENT]
    assert len(spans) == 2
    first, second = spans
    (mesh,) = callee.requests
    # (the flags: sampled, and the SDK's random trace id flag when it sets one)
    assert mesh.headers["traceparent"][:-3] == f"00-{trace_id}-{first.context.span_id:016x}"
    (failed_over,) = gateway.requests
    assert failed_over.headers["traceparent"][:-3] == (
        f"00-{trace_id}-{second.context.span_id:016x}"
    )
    assert dict(second.attributes or {})["soajs.failover"] is True
    assert dict(second.attributes or {})["soajs.route"] == "gateway"


def _free_port() -> int:
    from tests.support import free_port

    return free_port()


HOSTILE_TRACEPARENTS = [
    "garbage",
    "00-" + "0" * 32 + "-" + "0" * 16 + "-01",  # all-zero ids: invalid
    "ff-" + TRACE + "-" + PARENT + "-01",  # version ff: forbidden
    "00-" + TRACE + "-" + PARENT + "-01-extra",
    "00-" + "a" * 8000,
    "00-\u00e9\u00e9-\u00e9-01",
]


@pytest.mark.parametrize("hostile", HOSTILE_TRACEPARENTS)
def test_a_hostile_inbound_traceparent_is_ignored_never_a_crash(
    servers: Callable[..., Loopback], hostile: str
) -> None:
    gateway = servers("gateway")
    app = FastAPI()
    setup(app, trusted_gateways="*", health=False)

    @app.get("/call")
    async def call() -> Any:
        answer = await AsyncServiceConnector().get("b", "/orders", version="1")
        await aclose()
        return answer.json()

    EXPORTER.clear()
    with uvicorn_server(app) as served:
        response = httpx.get(
            f"http://127.0.0.1:{served.port}/call",
            headers=[
                (b"traceparent", hostile.encode("latin-1", "replace")),
                (b"soajsinjectobj", header_for(gateway)),
            ],
        )
    assert response.status_code == 200, response.text
    (span,) = [s for s in EXPORTER.get_finished_spans() if s.kind is SpanKind.CLIENT]
    assert _root_parent(span) == ""  # a trace of its own
    assert span.context is not None and span.context.trace_id != 0
    (seen,) = gateway.requests
    assert seen.headers["traceparent"].split("-")[1] == f"{span.context.trace_id:032x}"
