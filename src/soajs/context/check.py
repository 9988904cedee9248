"""The whole header checked in C, before any model is built.

One ``msgspec.convert`` of the decoded header into the strict structures
below answers, for a gateway's header, "will every field of the context be
built by :mod:`soajs.context.fastpath` without needing pydantic?": each
typed value has its exact type (no coercion: ``strict=True``; a bool is not
an int), each JSON map is an object or ``null``, ``urac.groups`` strings,
every ``interConnect`` entry well typed. Keys these structures do not name
are ignored here and kept by the models as extras (any JSON is accepted
there), except the Python names of aliased fields (``first_name`` for
``firstName``...), which pydantic would read: a header holding one is left
to the eager path.

When the check passes, the context's fields are built on first read
(:mod:`soajs.models._deferred`): a header is decoded, its size, depth and
value count bounded, and checked, and a handler that reads nothing pays for
nothing more. When it fails the header is not refused: the eager path
decides (building what it can, and pydantic validating the rest, with the
reason it has always given). The structures are thrown away at once and
hold no container that could form a cycle: untracked by the collector.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import UNSET, UnsetType

__all__ = ["checks_out"]


class _Object(msgspec.Struct, gc=False):
    """A JSON object, whatever it holds: converting a ``dict`` into this struct
    without fields checks that it is one and reads its keys, never its values
    (``dict[str, Any]`` copied every map and walked every value: a third of the
    check, and garbage for the collector)."""


_Map = _Object | None

#: A key no value passes (an ``int`` at least 1 and at most 0): the Python names of
#: aliased fields, which pydantic would read, fail the check wherever they appear,
#: inside the one C-level conversion (no Python loop over the parts' keys).
_Refused = Annotated[int, msgspec.Meta(ge=1, le=0)] | UnsetType


def _refused(name: str) -> Any:
    return msgspec.field(default=UNSET, name=name)


class _Ref(msgspec.Struct, gc=False):
    id: str | None = None
    code: str | None = None


class _Tenant(msgspec.Struct, gc=False):
    id: str
    code: str
    name: str | None = None
    type: str | None = None
    locked: bool | None = None
    main: _Ref | None = None
    profile: _Map = None


class _Key(msgspec.Struct, gc=False):
    iKey: str | None = None
    eKey: str | None = None
    config: _Map = None


class _Application(msgspec.Struct, gc=False):
    product: str | None = None
    package: str | None = None
    appId: str | None = None
    acl: _Map = None
    acl_all_env: _Map = None
    package_acl: _Map = None  # overwritten by the package's: only their types matter
    package_acl_all_env: _Map = None
    py_app_id: _Refused = _refused("app_id")


class _Package(msgspec.Struct, gc=False):
    acl: _Map = None
    acl_all_env: _Map = None


class _Urac(msgspec.Struct, gc=False):
    id: str | None = msgspec.field(default=None, name="_id")
    username: str | None = None
    firstName: str | None = None
    lastName: str | None = None
    email: str | None = None
    groups: list[str] = msgspec.field(default_factory=list)
    tenant: _Ref | None = None
    profile: _Map = None
    acl: _Map = None
    acl_AllEnv: _Map = None
    config: _Map = None
    groupsConfig: _Map = None
    socialLogin: _Map = None
    py_id: _Refused = _refused("id")
    py_first_name: _Refused = _refused("first_name")
    py_last_name: _Refused = _refused("last_name")
    py_acl_all_env: _Refused = _refused("acl_all_env")
    py_groups_config: _Refused = _refused("groups_config")
    py_social_login: _Refused = _refused("social_login")


class _InterConnect(msgspec.Struct, gc=False):
    name: str = ""
    version: str | None = None
    host: str = ""
    port: int | None = None
    latest: str | None = None


class _Awareness(msgspec.Struct, gc=False):
    host: str | None = None
    port: int | None = None
    interConnect: list[_InterConnect] | None = None
    py_inter_connect: _Refused = _refused("inter_connect")


class _Header(msgspec.Struct, gc=False):
    tenant: _Tenant
    key: _Key | None = None
    application: _Application | None = None
    package: _Package | None = None
    urac: _Urac | None = None
    awareness: _Awareness | None = None
    device: str | _Object | None = None
    geo: _Map = None
    param: _Map = None


_convert = msgspec.convert


def checks_out(data: dict[str, Any]) -> bool:
    """True when every field of the context of ``data`` builds without pydantic."""
    try:
        _convert(data, _Header, strict=True)
    except (msgspec.ValidationError, TypeError, ValueError, RecursionError):
        return False
    return True
