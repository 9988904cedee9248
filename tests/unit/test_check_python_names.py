"""The Python names of aliased fields never reach the fast path, whatever their value.

pydantic reads ``first_name`` as well as ``firstName`` (``populate_by_name``),
the fast path reads only the wire names: :mod:`soajs.context.check` refuses a
header holding a Python name inside its one msgspec conversion, through fields
typed to accept no value at all. Every JSON value is tried there, the odd ones
first (``0``, ``-1``, ``true``, ``1.0``, ``null``, integers beyond 64 bits,
nested containers): none may pass the check, and the context built for the
header must be pydantic's, with the same reason.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from soajs.context.check import checks_out
from tests.unit.test_fastpath import _same

_NAMES = [
    ("urac", "id"),
    ("urac", "first_name"),
    ("urac", "last_name"),
    ("urac", "acl_all_env"),
    ("urac", "groups_config"),
    ("urac", "social_login"),
    ("application", "app_id"),
    ("awareness", "inter_connect"),
]
_VALUES: list[Any] = [
    "x",
    "",
    0,
    1,
    -1,
    True,
    False,
    1.0,
    None,
    2**63,
    2**64 + 1,
    -(10**30),
    [],
    [1],
    {},
    {"a": {"b": [None]}},
    [{"name": "a", "host": "h", "port": 1}],
]


@pytest.mark.parametrize(("part", "name"), _NAMES)
@pytest.mark.parametrize("value", _VALUES, ids=repr)
def test_a_python_name_with_any_value_is_left_to_pydantic(part: str, name: str, value: Any) -> None:
    for wire in ({}, {"firstName": "Zoe", "_id": "u1", "appId": "a1", "interConnect": []}):
        header: dict[str, Any] = {"tenant": {"id": "t1", "code": "T"}, part: {**wire, name: value}}
        assert not checks_out(json.loads(json.dumps(header))), header
        _same(header)
