"""Shared fixtures: the real gateway captures and the sample registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "gateway-4.3.4"
SAMPLE_REGISTRY = ROOT / "examples" / "registry.json"


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def captured_registry() -> dict[str, Any]:
    """``data`` of the real gateway 4.3.4 ``GET /getRegistry`` answer."""
    data: dict[str, Any] = load_fixture("getRegistry_dev_hello.json")["body"]["data"]
    return data


@pytest.fixture
def sample_registry() -> dict[str, Any]:
    """The sample registry shipped in examples/."""
    data: dict[str, Any] = json.loads(SAMPLE_REGISTRY.read_text())
    return data


@pytest.fixture(autouse=True)
def _clean_soajs_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests start from an environment without SOAJS_* variables."""
    import os

    for name in list(os.environ):
        if name.startswith("SOAJS_"):
            monkeypatch.delenv(name)
