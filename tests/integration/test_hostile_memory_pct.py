"""Memory of a real uvicorn worker under 2,000 distinct percent-encoded 64 KiB headers.

Red-team finding 3 (issue 12): the cache charged a percent-encoded header as
ASCII text (its key is), while ``%F0%9F%98%80`` or ``%5C`` in a string makes
the decoded string four bytes a character: a worker with the defaults
(``trusted_gateways`` unset: anyone's header is parsed) grew by 100 MiB over
2,000 such headers, every context read, against a 32 MiB cache budget. The
charge is now taken from the decoded JSON; the RSS must stay within
:data:`~tests.integration.test_hostile_memory.BOUND_MIB` (budget + 32 MiB).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from benchmarks._hostile import PERCENT_SHAPES, hostile_header

from tests.conftest import ROOT
from tests.integration.test_hostile_memory import BOUND_MIB, HEADERS, KeepAlive
from tests.support import free_port

#: the percent-encoded shapes whose strings decode four bytes a character (the
#: others, ``pct_one_string`` and ``pct_full_objects``, are the CPU's worst cases)
WIDE = tuple(shape for shape in PERCENT_SHAPES if "wide" in shape)


@pytest.fixture
def default_worker() -> Iterator[KeepAlive]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOAJS_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "tests.integration.hostile_app_default:app",
         "--host", "127.0.0.1", "--port", str(port),
         "--h11-max-incomplete-event-size", "262144", "--log-level", "error"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    client = None
    try:
        client = KeepAlive(port)
        yield client
    finally:
        if client is not None:
            client.close()
        proc.kill()
        proc.wait(10)


@pytest.mark.slow
def test_rss_stays_flat_after_2000_distinct_percent_encoded_64k_headers(
    default_worker: KeepAlive,
) -> None:
    templates = [hostile_header(shape, 65536, 10**7) for shape in WIDE]
    for _ in range(20):
        assert default_worker.get(b"/probe")[0] == 200
    before = default_worker.rss_mib()
    for i in range(HEADERS):
        raw = templates[i % len(templates)].replace(b'"t10000000"', b'"t1%07d"' % i, 1)
        assert len(raw) == 65536 and raw.startswith(b"%7B")
        # every context read whole: the most each cached one can come to hold
        status, body = default_worker.get(b"/probe?read=1", raw)
        assert status == 200
        assert json.loads(body)["tenant"] == f"t1{i:07d}"  # each one was a context
    after = default_worker.rss_mib()
    assert after - before <= BOUND_MIB, f"RSS {before:.0f} -> {after:.0f} MiB"
