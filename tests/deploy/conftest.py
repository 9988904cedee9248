"""Two recording control planes, one port, two loopback IPs: two controller hosts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.recording_plane import RecordingPlane, registry_with_controllers


@pytest.fixture
def planes() -> Iterator[tuple[RecordingPlane, RecordingPlane]]:
    first = RecordingPlane().start()
    second = RecordingPlane(host="127.0.0.2", port=first.port).start()
    registry = registry_with_controllers(("127.0.0.1", first.port), ("127.0.0.2", first.port))
    first.registry = second.registry = registry
    try:
        yield first, second
    finally:
        first.stop()
        second.stop()


@pytest.fixture(autouse=True)
def _own_runtime_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOAJS_RUNTIME_DIR", str(tmp_path / "run"))
