"""The one redaction pass over everything the ``soajs`` command prints.

Text and ``--json`` output, error lines and log lines all go through it:

* a value under a key named like a secret (``password``, ``passwd``, ``pwd``,
  ``secret``, ``token``, ``apikey``/``api_key``, ``accesstoken``,
  ``privatekey``, anything under ``credentials``; case, ``_`` and ``-``
  ignored) shows as ``**********``;
* the password of a URI's userinfo, or of a ``user:password@host`` address,
  shows as ``****`` (``mongodb://user:****@host``).

It comes on top of the models' own masking. ``--reveal-secrets`` turns it off.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["MASK", "is_secret_key", "redact", "redact_text"]

#: What a masked value shows as (the models' own mask).
MASK = "**********"

_SECRET_PARTS = (
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "apikey",
    "accesstoken",
    "privatekey",
    "credentials",
)
# user:password@ in a URI (after ``//``) or in a bare address; the password never
# holds ``@``, ``/`` or whitespace (RFC 3986 userinfo percent-encodes them).
_USERINFO = re.compile(r"((?<=//)|(?<![\w.%+~:-]))([\w.%+~!$&'()*,;=-]*):([^\s@/]+)@")


# settings about a secret, not the secret: ``accessTokenLifetime``, ``tokenExpiresIn``...
_ABOUT_PARTS = ("lifetime", "expir", "ttl", "length", "timeout", "renew")


def is_secret_key(key: object) -> bool:
    """Whether a value under ``key`` is a secret (see the module)."""
    name = str(key).lower().replace("_", "").replace("-", "")
    if any(part in name for part in _ABOUT_PARTS):
        return False
    return any(part in name for part in _SECRET_PARTS)


def redact_text(text: str) -> str:
    """``text`` with the password of every ``user:password@`` masked."""
    if "@" not in text:
        return text
    return _USERINFO.sub(lambda m: f"{m.group(1)}{m.group(2)}:****@", text)


def _mask_all(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _mask_all(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_all(v) for v in value]
    if value is None or value == "" or isinstance(value, bool):
        return value
    return MASK


def redact(value: Any) -> Any:
    """A copy of ``value`` (JSON-like data) with every secret masked."""
    if isinstance(value, dict):
        return {k: _mask_all(v) if is_secret_key(k) else redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value
