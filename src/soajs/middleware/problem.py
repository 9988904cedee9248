"""RFC 7807 ``application/problem+json`` bodies, shared by every adapter."""

from __future__ import annotations

import json

__all__ = ["PROBLEM_CONTENT_TYPE", "problem_body"]

PROBLEM_CONTENT_TYPE = "application/problem+json"


def problem_body(status: int, title: str, detail: str, type_: str = "about:blank") -> bytes:
    """A problem document; ``detail`` must never carry request content."""
    return json.dumps(
        {"type": type_, "title": title, "status": status, "detail": detail},
        separators=(",", ":"),
    ).encode()
