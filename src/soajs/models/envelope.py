"""The envelope every control-plane answer is wrapped in (PROTOCOL.md)."""

from __future__ import annotations

import time
from typing import Any

from soajs.models._base import SoajsModel

__all__ = ["Envelope", "EnvelopeError", "EnvelopeErrors", "EnvelopeService", "make_envelope"]


class EnvelopeService(SoajsModel):
    """Who answered: ``{service, version, type, route}``."""

    service: str | None = None
    version: str | None = None
    type: str | None = None
    route: str | None = None


class EnvelopeError(SoajsModel):
    """One ``errors.details`` entry."""

    code: int | None = None
    message: str = ""


class EnvelopeErrors(SoajsModel):
    """``errors``: the codes and their details."""

    codes: tuple[int, ...] = ()
    details: tuple[EnvelopeError, ...] = ()


class Envelope(SoajsModel):
    """``{result, ts, service, data, errors}``."""

    result: bool = False
    ts: int | None = None
    service: EnvelopeService | None = None
    data: Any = None
    errors: EnvelopeErrors | None = None

    @property
    def ok(self) -> bool:
        """True when ``result`` is true and no error detail was sent."""
        return self.result and not (self.errors and self.errors.details)

    @property
    def first_error(self) -> EnvelopeError | None:
        """The first error detail, the one a user should see."""
        if self.errors and self.errors.details:
            return self.errors.details[0]
        return None


def make_envelope(
    route: str,
    data: Any = None,
    *,
    errors: list[tuple[int, str]] | None = None,
    service: str = "controller",
    version: str = "local",
    ts: int | None = None,
) -> dict[str, Any]:
    """Build an envelope as plain JSON (what a control plane or service answers)."""
    body: dict[str, Any] = {
        "result": not errors,
        "ts": ts if ts is not None else int(time.time() * 1000),
        "service": {"service": service, "version": version, "type": "rest", "route": route},
    }
    if errors:
        body["errors"] = {
            "codes": [code for code, _ in errors],
            "details": [{"code": code, "message": message} for code, message in errors],
        }
    elif data is not None:
        body["data"] = data
    return body
