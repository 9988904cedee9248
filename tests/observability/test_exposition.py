"""What ``/metrics`` answers, on the service port of real servers, and its bounds."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from soajs.middleware import SOAJSMiddleware, SOAJSWSGIMiddleware
from soajs.observability import counters, families, register_collector
from soajs.observability.export import metrics_answer
from soajs.testing.headers import make_inject_header
from tests.conftest import ROOT
from tests.integration.servers import uvicorn_server, werkzeug_server
from tests.observability.otel import sdk

Key = tuple[str, tuple[tuple[str, str], ...]]


def parse(text: str) -> dict[Key, float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def header_key(outcome: str, reason: str) -> Key:
    return ("soajs_context_headers_total", (("outcome", outcome), ("reason", reason)))


async def hello(request: Any) -> PlainTextResponse:
    return PlainTextResponse("ok")


def test_the_service_port_answers_metrics_when_asked_and_counts_refusals() -> None:
    app = SOAJSMiddleware(
        Starlette(routes=[Route("/", hello)]),
        trusted_gateways="10.1.2.3",  # loopback is not a gateway: its headers are ignored
        health=False,
        metrics_on_service_port=True,
    )
    with uvicorn_server(app) as served, httpx.Client(timeout=10) as client:
        base = f"http://127.0.0.1:{served.port}"
        before = parse(client.get(base + "/metrics").text)
        for _ in range(3):
            assert client.get(base + "/", headers={"soajsinjectobj": "{}"}).status_code == 200
        answer = client.get(base + "/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    after = parse(answer.text)
    key = header_key("ignored", "untrusted_peer")
    assert after[key] == before.get(key, 0.0) + 3


def test_the_service_port_does_not_answer_metrics_by_default() -> None:
    app = SOAJSMiddleware(Starlette(routes=[Route("/", hello)]), trusted_gateways="*", health=False)
    with uvicorn_server(app) as served:
        assert httpx.get(f"http://127.0.0.1:{served.port}/metrics").status_code == 404


def test_refused_and_cached_headers_by_reason_under_werkzeug() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    wsgi = SOAJSWSGIMiddleware(app, trusted_gateways="*", health=False,
                               metrics_on_service_port=True)  # fmt: skip
    good = make_inject_header()
    with werkzeug_server(wsgi) as served, httpx.Client(timeout=10) as client:
        base = f"http://127.0.0.1:{served.port}"
        before = parse(client.get(base + "/metrics").text)
        for value in (good, good, good, "not json{", "not json{", "[1]"):
            client.get(base + "/", headers={"soajsinjectobj": value})
        after = parse(client.get(base + "/metrics").text)

    def delta(key: Key) -> float:
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta(header_key("accepted", "ok")) == 3
    assert delta(header_key("refused", "not_json")) == 2
    assert delta(header_key("refused", "not_an_object")) == 1
    assert delta(("soajs_context_cache_hits_total", (("reason", "ok"),))) == 2
    assert delta(("soajs_context_cache_hits_total", (("reason", "not_json"),))) == 1


def test_the_collector_goes_into_the_applications_own_registry() -> None:
    registry = CollectorRegistry()
    register_collector(registry, all_workers=False)
    text = generate_latest(registry).decode()
    found = parse(text)
    assert found[("soajs_metrics_processes", ())] == 1


def test_without_prometheus_client_metrics_answers_501(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(sys.modules):
        if name == "prometheus_client" or name.startswith("prometheus_client."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # import fails
    status, body, _ = metrics_answer()
    assert status == 501 and b"soajs-python[metrics]" in body


def test_target_services_are_capped_and_the_rest_is_other() -> None:
    counts = counters.LabelledCounts(("service", "outcome"), cap=3)
    for i in range(10):
        counts.add((f"svc{i}", "ok"))
    names = {key[0] for key, _ in counts.items()}
    assert names == {"svc0", "svc1", "svc2", "other"}
    assert dict(counts.items())[("other", "ok")] == 7


def test_a_hostile_worker_file_is_skipped_not_trusted() -> None:
    data = {"families": {
        "soajs_context_headers": [["_total", [["outcome", "accepted"]], "NaN?"],
                                  ["<script>", [], 1], "junk", ["_total", [["a", "b"]], 5]],
        "not_ours": [["_total", [], 1e9]],
    }}  # fmt: skip
    fams = families.from_json(json.loads(json.dumps(data)))
    samples = fams["soajs_context_headers"].samples
    assert samples == {("_total", (("a", "b"),)): 5.0}
    assert "not_ours" not in fams


def test_the_dashboard_is_json_and_asks_only_for_metrics_we_export() -> None:
    folder = ROOT / "examples" / "observability"
    dashboard = json.loads((folder / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    exprs += [
        line for line in (folder / "queries.promql").read_text().splitlines()
        if line and not line.startswith("#")
    ]  # fmt: skip
    assert len(dashboard["panels"]) >= 5
    exported = set()
    for name, (kind, _, _) in families.SPECS.items():
        suffixes = {"counter": ["_total"], "gauge": [""],
                    "histogram": ["_bucket", "_sum", "_count"]}[kind]  # fmt: skip
        exported |= {name + s for s in suffixes}
    for expr in exprs:
        for used in re.findall(r"\bsoajs_[a-z_]+", expr):
            assert used in exported, (used, expr)


def test_a_wsgi_traceparent_is_the_parent_and_is_detached_even_on_errors() -> None:
    seen: dict[str, str] = {}
    lock = threading.Lock()

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        context = trace.get_current_span().get_span_context()
        with lock:
            seen[environ["PATH_INFO"]] = f"{context.trace_id:032x}" if context.is_valid else ""
        if environ["PATH_INFO"] == "/boom":
            raise RuntimeError("the app fails")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    wsgi = SOAJSWSGIMiddleware(app, trusted_gateways="*", health=False)
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    parent = {"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
    with (
        sdk(),
        werkzeug_server(wsgi, threaded=False) as served,
        httpx.Client(timeout=10) as client,
    ):
        base = f"http://127.0.0.1:{served.port}"
        assert client.get(base + "/boom", headers=parent).status_code == 500
        assert client.get(base + "/after").status_code == 200
        assert client.get(base + "/ok", headers=parent).status_code == 200
    assert seen == {"/boom": trace_id, "/after": "", "/ok": trace_id}


def test_files_of_an_earlier_run_are_removed_and_never_summed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from soajs.observability import workers

    monkeypatch.setenv("SOAJS_RUNTIME_DIR", str(tmp_path))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    dead_master = int(gone.stdout)
    folder = tmp_path / "metrics"
    folder.mkdir(mode=0o700)
    key = workers._key()
    stale = {"families": {"soajs_registry_polls": [["_total", [["service", "x"]], 99]]}}
    old = folder / f"{key}.{dead_master}.{dead_master + 1}.json"
    old.write_text(json.dumps(stale))
    (folder / f"{key}.{dead_master}.retired.json").write_text(json.dumps(stale))
    fams = workers.aggregate()
    assert ("_total", (("service", "x"),)) not in fams["soajs_registry_polls"].samples
    assert not old.exists()
    assert sorted(p.name for p in folder.iterdir()) == [f"{key}.{os.getppid()}.lock"]


def test_log_fields_never_leak_between_concurrent_requests() -> None:
    import logging
    import time
    from concurrent.futures import ThreadPoolExecutor

    from soajs.observability import SoajsContextFilter

    records: list[tuple[str, str]] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append((record.getMessage(), record.soajs_request_id))  # type: ignore[attr-defined]

    handler = Keep()
    handler.addFilter(SoajsContextFilter())
    log = logging.getLogger("test.leak")
    log.addHandler(handler)
    log.setLevel(logging.INFO)

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        mine = environ.get("HTTP_X_REQUEST_ID", "")
        log.info("start %s", mine)
        time.sleep(0.02)  # the other requests run meanwhile
        log.info("end %s", mine)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    wsgi = SOAJSWSGIMiddleware(app, trusted_gateways="*", health=False)
    try:
        with werkzeug_server(wsgi) as served, ThreadPoolExecutor(10) as pool:
            url = f"http://127.0.0.1:{served.port}/"
            list(pool.map(lambda i: httpx.get(url, headers={"x-request-id": f"r{i}"}), range(30)))
        log.info("after")
    finally:
        log.removeHandler(handler)
    assert len(records) == 61
    for message, request_id in records[:-1]:
        assert message.split()[-1] == request_id
    assert records[-1] == ("after", "-")


def test_a_storm_of_scrapes_is_answered_a_few_at_a_time() -> None:
    from concurrent.futures import ThreadPoolExecutor

    app = SOAJSMiddleware(
        Starlette(routes=[Route("/", hello)]),
        trusted_gateways="*",
        health=False,
        metrics_on_service_port=True,
    )
    with (
        uvicorn_server(app) as served,
        httpx.Client(timeout=10, limits=httpx.Limits(max_connections=64)) as client,
        ThreadPoolExecutor(32) as pool,
    ):
        base = f"http://127.0.0.1:{served.port}"
        storm = [pool.submit(client.get, base + "/metrics") for _ in range(200)]
        assert client.get(base + "/").text == "ok"  # the app answers meanwhile
        statuses = [f.result().status_code for f in storm]
    assert set(statuses) <= {200, 503} and 200 in statuses


def test_a_held_lock_delays_a_scrape_by_its_bound_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sibling stopped while holding the directory lock (SIGSTOP) must not hang /metrics."""
    import fcntl
    import time

    from soajs.observability import workers

    monkeypatch.setenv("SOAJS_RUNTIME_DIR", str(tmp_path))
    monkeypatch.setattr(workers, "LOCK_WAIT", 0.3)
    folder = tmp_path / "metrics"
    folder.mkdir(mode=0o700)
    lock = folder / f"{workers._key()}.{os.getppid()}.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, sys, time; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); "
         "print('held', flush=True); time.sleep(30)", str(lock)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        start = time.monotonic()
        fams = workers.aggregate()
        assert time.monotonic() - start < 3 * 0.3
        assert fams["soajs_metrics_processes"].samples[("", ())] == 1
    finally:
        holder.kill()
        holder.wait(5)
        assert holder.stdout is not None
        holder.stdout.close()
    with open(lock) as free:  # released with its holder
        fcntl.flock(free, fcntl.LOCK_EX | fcntl.LOCK_NB)
