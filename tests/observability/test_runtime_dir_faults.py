"""An unusable metrics directory (a file in the way, read-only, full) never stops the
service nor ``/metrics``: a real werkzeug server keeps answering its own counts, one
WARNING says why; a full disk never loses a gone worker's counts."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from soajs.middleware import SOAJSWSGIMiddleware
from soajs.observability import families, workers
from soajs.testing.headers import make_inject_header
from tests.integration.servers import werkzeug_server


def _app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def _accepted(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "soajs_context_headers_total" and sample.labels == {
                "outcome": "accepted",
                "reason": "ok",
            }:
                return sample.value
    return 0.0


@pytest.mark.parametrize("fault", ["a file in the way", "read-only"])
def test_an_unusable_directory_keeps_serving_and_says_so_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, fault: str
) -> None:
    if fault == "read-only" and hasattr(os, "geteuid") and os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    root = tmp_path / "run"
    if fault == "a file in the way":
        root.write_text("not a directory")
    else:
        root.mkdir(mode=0o500)
    monkeypatch.setenv("SOAJS_RUNTIME_DIR", str(root))
    caplog.set_level(logging.WARNING, logger="soajs.observability")
    wsgi = SOAJSWSGIMiddleware(_app, trusted_gateways="*", health=False,
                               metrics_on_service_port=True)  # fmt: skip
    header = make_inject_header()
    with werkzeug_server(wsgi) as served, httpx.Client(timeout=10) as client:
        base = f"http://127.0.0.1:{served.port}"
        before = _accepted(client.get(base + "/metrics").text)
        for _ in range(3):
            assert client.get(base + "/", headers={"soajsinjectobj": header}).text == "ok"
            workers.publish_now()
            answer = client.get(base + "/metrics")
            assert answer.status_code == 200
        assert _accepted(answer.text) == before + 3
    said = [r for r in caplog.records if "metrics directory" in r.getMessage()]
    assert len(said) == 1, [r.getMessage() for r in said]


def test_a_full_disk_keeps_a_gone_workers_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOAJS_RUNTIME_DIR", str(tmp_path))
    directory = tmp_path / "metrics"
    directory.mkdir(mode=0o700)
    gone = families.local()
    for family in gone.values():
        family.samples.clear()
    gone["soajs_registry_polls"].add("_total", (("service", "x"), ("outcome", "ok")), 7.0)
    data = families.to_json(gone)
    data.update(pid=2**22 + 1, ppid=os.getppid(), started=1)  # no such process
    name = f"{workers._key()}.{os.getppid()}.{2**22 + 1}.json"
    (directory / name).write_text(json.dumps(data))

    def polls() -> float:
        samples = workers.aggregate()["soajs_registry_polls"].samples
        return samples.get(("_total", (("service", "x"), ("outcome", "ok"))), 0.0)

    monkeypatch.setattr(workers, "_write", lambda path, data: False)  # ENOSPC
    assert polls() == 7.0
    assert (directory / name).exists()  # kept: its counts are nowhere else
    assert polls() == 7.0
    monkeypatch.undo()
    monkeypatch.setenv("SOAJS_RUNTIME_DIR", str(tmp_path))
    assert polls() == 7.0
    assert not (directory / name).exists()  # now in the retired file
    assert polls() == 7.0


def test_stale_files_of_other_services_never_hide_a_sibling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """2,000 files of other services' earlier runs (their masters are gone) are in the
    directory: a live sibling's file is still found, and the stale ones are cleaned up."""
    monkeypatch.setenv("SOAJS_RUNTIME_DIR", str(tmp_path))
    directory = tmp_path / "metrics"
    directory.mkdir(mode=0o700)
    dead = 2**22 + 7  # no such process
    for i in range(2000):
        (directory / f"dev-other{i}-4000.{dead}.{dead + 1}.json").write_text("{}")
    sibling = families.local()
    for family in sibling.values():
        family.samples.clear()
    sibling["soajs_registry_polls"].add("_total", (("service", "y"), ("outcome", "ok")), 5.0)
    data = families.to_json(sibling)
    me = os.getpid()  # a live process with our parent: ourselves under another name
    data.update(pid=me, ppid=os.getppid(), started=0)
    monkeypatch.setattr(workers, "_alive", lambda pid, ppid, started: True)
    (directory / f"{workers._key()}.{os.getppid()}.{me + 10**7}.json").write_text(json.dumps(data))
    samples = workers.aggregate()["soajs_registry_polls"].samples
    assert samples.get(("_total", (("service", "y"), ("outcome", "ok")))) == 5.0
    for _ in range(5):
        workers.aggregate()
    left = [p for p in directory.iterdir() if p.name.startswith("dev-other")]
    assert left == []


def test_odd_names_in_the_directory_never_break_metrics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOAJS_RUNTIME_DIR", str(tmp_path))
    directory = tmp_path / "metrics"
    directory.mkdir(mode=0o700)
    key, ppid = workers._key(), os.getppid()
    for name in (f"{key}.{ppid}.{'9' * 40}.json", f"x.{'9' * 40}.1.json", "x.0.1.json",
                 f"{key}.{ppid}.junk.json", "no-dots", ".tmp.x.tmp"):  # fmt: skip
        (directory / name).write_text("{}")
    status, body, _ = workers_answer()
    assert status == 200, body
    assert (directory / "x.0.1.json").exists()  # pid 0 is never signalled


def workers_answer() -> tuple[int, bytes, str]:
    from soajs.observability.export import metrics_answer

    return metrics_answer()
