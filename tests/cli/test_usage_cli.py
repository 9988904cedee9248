"""Bad command lines are usage errors (exit 2) with one clear line."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.cli.conftest import SCRIPT, soajs


@pytest.mark.parametrize(
    "args",
    [
        ["call", "o", "/x", "--gateway", "127.0.0.1:1", "--key", "K", "--deadline", "-1"],
        ["call", "o", "/x", "--gateway", "127.0.0.1:1", "--key", "K", "--deadline", "nan"],
        ["registry", "show", "--registry-api", "127.0.0.1:1", "--service", "h", "--env", "dev",
         "--timeout", "1e308"],
        ["doctor", "--timeout", "inf"],
        ["doctor", "--timeout", "0"],
        ["call", "orders/../../admin", "/x", "--gateway", "127.0.0.1:1", "--key", "K"],
    ],
)  # fmt: skip
def test_bad_option_values_exit_2(args: list[str]) -> None:
    run = soajs(*args)
    assert run.code == 2, run


def test_a_non_utf8_argument_is_one_clear_line() -> None:
    done = subprocess.run(
        [os.fsencode(SCRIPT), b"header", b"encode", b"--tenant-code", b"\xff"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.decode() == "soajs: error: argument 4 is not valid UTF-8\n"


def test_empty_stdin_says_no_header_given() -> None:
    run = soajs("header", "decode", "-", stdin="")
    assert run.code == 2 and "no header given" in run.err


def test_global_json_with_encode_and_from_json_with_flags() -> None:
    run = soajs("--json", "header", "encode")
    assert run.code == 0 and json.loads(json.loads(run.out)["header"])["tenant"]["code"] == "TST1"
    obj = json.dumps({"tenant": {"id": "t", "code": "T"}})
    refused = soajs("header", "encode", "--from-json", obj, "--tenant-code", "X")
    assert refused.code == 2 and "--tenant-code" in refused.err
    both = soajs("header", "encode", "--from-json", obj, "--no-check")
    assert both.code == 0 and json.loads(both.out) == json.loads(obj)
