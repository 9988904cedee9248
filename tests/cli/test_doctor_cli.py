"""``soajs doctor`` judges variables with the library's own settings parser."""

from __future__ import annotations

import pytest

from tests.cli.conftest import soajs


@pytest.mark.parametrize("value", ["yes", "on", "maybe", "Y"])
def test_a_boolean_the_library_would_misread_is_flagged_with_its_value(value: str) -> None:
    run = soajs("doctor", "--json", env={"SOAJS_DEPLOY_MANUAL": value, "SOAJS_ENV": "dev"})
    assert run.code == 1
    checks = [c for c in run.json()["checks"] if c["check"] == "SOAJS_DEPLOY_MANUAL"]
    assert checks and checks[0]["level"] == "error", checks
    assert repr(value) in checks[0]["message"] and "SOAJS_DEPLOY_MANUAL" in checks[0]["message"]
    assert "true" in checks[0]["fix"]


@pytest.mark.parametrize("value", ["true", "1", "false", "0", " TRUE "])
def test_the_spellings_the_library_reads_are_ok(value: str) -> None:
    run = soajs("doctor", "--json", env={"SOAJS_DEPLOY_MANUAL": value, "SOAJS_ENV": "dev"})
    checks = [c for c in run.json()["checks"] if c["check"] == "SOAJS_DEPLOY_MANUAL"]
    assert checks[0]["level"] == "ok", checks
