"""Every file the CLI and the kit read is bounded: size, kind, depth."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from soajs.errors import ConfigurationError
from tests.cli.conftest import soajs


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "fifo.json"
    os.mkfifo(path)  # no writer, ever
    return path


def test_devices_and_fifos_are_refused_without_waiting(fifo: Path) -> None:
    started = time.monotonic()
    for args in (["registry", "show", "--file", "/dev/zero"],
                 ["registry", "show", "--file", str(fifo)],
                 ["registry", "get", "custom", "x", "--file", str(fifo)],
                 ["registry", "diff", str(fifo), "/dev/zero"],
                 ["config", "validate", str(fifo)],
                 ["doctor", "--config", "/dev/zero"]):  # fmt: skip
        run = soajs(*args)
        assert run.code == 2 and "is not a regular file" in run.err, (args, run)
    assert time.monotonic() - started < 30  # no wait on the FIFO, no 4 GB read


def test_a_file_over_the_cap_or_too_deep_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    with big.open("wb") as fh:
        fh.truncate(64 * 1024 * 1024 + 10)  # sparse: larger than the cap
    run = soajs("registry", "show", "--file", str(big))
    assert run.code == 2 and "larger than 67108864 bytes" in run.err
    deep = tmp_path / "deep.json"
    deep.write_text('{"environment": "dev", "custom": ' + "[" * 200 + "]" * 200 + "}")
    run = soajs("registry", "show", "--file", str(deep))
    assert run.code == 2 and "nested deeper than 128 levels" in run.err
    config = soajs("config", "validate", str(deep))
    assert config.code == 2 and "nested deeper than 128 levels" in config.err


def test_the_kit_refuses_the_same_files(fifo: Path) -> None:
    from soajs import RegistryManager

    with pytest.raises(ConfigurationError, match="not a regular file"):
        RegistryManager.from_file(fifo, "hello")
    with pytest.raises(ConfigurationError, match="not a regular file"):
        RegistryManager.from_file("/dev/zero", "hello")
