"""The request context the test apps' views call with: a mesh route to ``SOAJS_TEST_CALLEE``."""

from __future__ import annotations

import json
import os

from soajs.context import parse_inject_header

host, port = os.environ["SOAJS_TEST_CALLEE"].rsplit(":", 1)
_RAW = json.dumps(
    {
        "tenant": {"id": "t1", "code": "TST1"},
        "key": {"iKey": "ikey", "eKey": "ekey", "config": {}},
        "application": {"product": "P", "package": "P_B"},
        "awareness": {
            "interConnect": [
                {"name": "b", "version": "1", "host": host, "port": int(port), "latest": "1"}
            ]
        },
    }
).encode()
_parsed = parse_inject_header([_RAW], 65536).context
assert _parsed is not None
CONTEXT = _parsed.bind(None, _RAW)
