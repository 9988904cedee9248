"""``soajs.Config``: a service's own configuration, validated.

It is what a service says about itself to the control plane; with manual
deployment (``SOAJS_DEPLOY_MANUAL``) it becomes the ``POST /register`` body
(:meth:`Config.registration_body`).

>>> cfg = Config(name="hello", group="Demo", port=4381, version="1")
>>> cfg.registration_body(ip="127.0.0.1")["mw"]
True
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, NoReturn

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from soajs.errors import ConfigurationError

__all__ = ["Config", "InterConnectTarget", "Maintenance", "MaintenanceCommand", "MaintenancePort"]

VERSION_PATTERN = r"^[0-9]+(\.[0-9]+)?$"
NAME_PATTERN = r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
_VERSION_RE = re.compile(VERSION_PATTERN)
_NAME_RE = re.compile(NAME_PATTERN)


class ErrorMessages(dict[int, str]):
    """``Config.errors``: a read-only, hashable ``{code: message}`` dict."""

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))

    def _read_only(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("Config.errors is read-only")

    __setitem__ = __delitem__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only
    __ior__ = _read_only

    def __reduce__(self) -> tuple[type[ErrorMessages], tuple[dict[int, str]]]:
        return (ErrorMessages, (dict(self),))  # copy and pickle build it whole


class _ConfigPart(BaseModel):
    model_config = ConfigDict(
        frozen=True, populate_by_name=True, extra="allow", coerce_numbers_to_str=True
    )


class MaintenancePort(_ConfigPart):
    """Where the maintenance listener is: ``maintenance`` = port + maintenanceInc,
    ``inherit`` = the service port, ``custom`` = ``value``."""

    type: Literal["maintenance", "inherit", "custom"] = "maintenance"
    value: int | None = Field(default=None, ge=1, le=65535)

    @field_validator("value", mode="before")
    @classmethod
    def _no_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError(f"must be an integer, got {value!r}")
        return value

    @model_validator(mode="after")
    def _custom_needs_value(self) -> MaintenancePort:
        if self.type == "custom" and self.value is None:
            raise ValueError("maintenance.port.type 'custom' needs maintenance.port.value")
        return self


class MaintenanceCommand(_ConfigPart):
    """A command the console shows for the service (e.g. reload the registry)."""

    label: str
    path: str
    icon: str | None = None


class Maintenance(_ConfigPart):
    """``maintenance{port, readiness, commands}``."""

    port: MaintenancePort = Field(default_factory=MaintenancePort)
    readiness: str = "/heartbeat"
    commands: tuple[MaintenanceCommand, ...] = ()

    @field_validator("readiness")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or any(c.isspace() for c in value):
            raise ValueError(f"must be a URL path starting with '/', got {value!r}")
        return value


class InterConnectTarget(_ConfigPart):
    """A service this one calls mesh-direct: ``{name, version}``."""

    name: str
    version: str

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        return _check_version(value)


def _check_version(value: str) -> str:
    if not _VERSION_RE.fullmatch(value):
        raise ValueError(f"must match {VERSION_PATTERN}, got {value!r}")
    return value


class Config(_ConfigPart):
    """A SOAJS service's configuration (the seed's ``soajs.Config``).

    Accepts the wire names (``extKeyRequired``, ``urac_Profile``...) and the
    Python names (``ext_key_required``). Any invalid value raises
    :class:`~soajs.errors.ConfigurationError` naming the field, the value and
    what is expected. Unknown keys (``apiList``, ``prerequisites``...) are
    kept and sent with the registration.
    """

    name: str
    group: str
    port: int = Field(ge=1, le=65535)
    version: str = "1"
    type: Literal["service", "daemon"] = "service"
    sub_type: str | None = Field(default=None, alias="subType")
    description: str | None = None
    ip: str | None = None
    oauth: bool = False
    urac: bool = False
    urac_profile: bool = Field(default=False, alias="urac_Profile")
    urac_acl: bool = Field(default=False, alias="urac_ACL")
    urac_config: bool = Field(default=False, alias="urac_Config")
    urac_group_config: bool = Field(default=False, alias="urac_GroupConfig")
    tenant_profile: bool = Field(default=False, alias="tenant_Profile")
    provision_acl: bool = Field(default=False, alias="provision_ACL")
    ext_key_required: bool = Field(default=True, alias="extKeyRequired")
    request_timeout: int | None = Field(default=None, alias="requestTimeout", ge=0)
    request_timeout_renewal: int | None = Field(default=None, alias="requestTimeoutRenewal", ge=0)
    inter_connect: tuple[InterConnectTarget, ...] = Field(default=(), alias="interConnect")
    maintenance: Maintenance = Field(default_factory=Maintenance)
    #: The service's error codes and messages (Node's ``config.js`` ``errors``;
    #: string keys such as ``"400"`` are accepted): see soajs.response.
    errors: Annotated[dict[int, str], AfterValidator(lambda v: ErrorMessages(v))] = Field(
        default_factory=lambda: ErrorMessages()
    )
    #: How the library's own refusals are answered: ``"problem"`` (RFC 7807
    #: problem+json, the default) or ``"envelope"`` (the SOAJS envelope). Not sent
    #: to the control plane.
    response_format: Literal["problem", "envelope"] = "problem"

    def __init__(self, /, **data: Any) -> None:
        _refuse_both_names(data)
        try:
            # a deep copy: unknown values (apiList...) must not change with the caller's dict
            super().__init__(**copy.deepcopy(data))
        except ValidationError as exc:
            raise ConfigurationError(_describe(exc)) from None

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Config:
        """Validate a mapping (e.g. loaded from JSON); errors are ConfigurationError."""
        if isinstance(obj, Config):
            return obj
        if not isinstance(obj, Mapping):
            raise ConfigurationError(
                f"invalid service configuration: expected a mapping, got {type(obj).__name__}"
            )
        return cls(**obj)

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **kwargs: Any) -> Config:
        """Validate JSON text; errors are ConfigurationError."""
        try:
            obj = json.loads(json_data)
        except ValueError as exc:
            raise ConfigurationError(f"invalid service configuration: not JSON ({exc})") from None
        return cls.model_validate(obj)

    @field_validator("port", "request_timeout", "request_timeout_renewal", mode="before")
    @classmethod
    def _no_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError(f"must be an integer, got {value!r}")
        return value

    @field_validator("errors", mode="before")
    @classmethod
    def _error_codes(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        for key in value:
            text = str(key) if isinstance(key, int) and not isinstance(key, bool) else key
            # ASCII digits below 2**53: a code JavaScript (the gateway, Node clients) reads exactly
            if (
                not isinstance(text, str)
                or not (text.isascii() and text.isdigit())
                or not 0 < int(text) < 2**53
            ):
                raise ValueError(f"keys must be positive integer error codes, got {key!r}")
        return value

    @field_validator("name", "group")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME_RE.fullmatch(value):
            raise ValueError(
                f"must be letters, digits, '-', '_' or '.', not starting or ending with "
                f"a symbol, got {value!r}"
            )
        return value

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        return _check_version(value)

    # Names the reference middleware used.
    @property
    def service_name(self) -> str:
        return self.name

    @property
    def service_group(self) -> str:
        return self.group

    @property
    def service_port(self) -> int:
        return self.port

    @property
    def service_version(self) -> str:
        return self.version

    def maintenance_port(self, maintenance_inc: int | None) -> int:
        """The port of the maintenance listener for this service.

        ``maintenance`` type: port + ``maintenance_inc`` (the registry's
        ``serviceConfig.ports.maintenanceInc``, gateway default 1000);
        ``inherit``: the service port; ``custom``: ``maintenance.port.value``.
        Raises :class:`~soajs.errors.ConfigurationError` when the sum is not a
        TCP port (e.g. port 64600 + 1000), naming the values and the ways out.
        """
        port = self.maintenance.port
        if port.type == "custom" and port.value is not None:
            return port.value
        if port.type == "inherit":
            return self.port
        inc = 1000 if maintenance_inc is None else maintenance_inc
        if isinstance(inc, bool) or not isinstance(inc, int):
            raise ConfigurationError(
                f"serviceConfig.ports.maintenanceInc must be an integer, got {inc!r}"
            )
        value = self.port + inc
        if not 1 <= value <= 65535:
            raise ConfigurationError(
                f"maintenance port out of range: Config.port {self.port} + maintenanceInc {inc} "
                f"= {value}, not within 1-65535; use a lower service port, or set "
                "maintenance.port to {'type': 'inherit'} or {'type': 'custom', 'value': ...}"
            )
        return value

    def registration_body(self, ip: str | None = None) -> dict[str, Any]:
        """The JSON body of ``POST /register`` (PROTOCOL.md), with ``mw: true``."""
        body = self.model_dump(
            by_alias=True, exclude_none=True, mode="json", exclude={"response_format"}
        )
        if not body.get("errors"):
            body.pop("errors", None)
        body["ip"] = ip or self.ip or "127.0.0.1"
        body["mw"] = True
        body["interConnect"] = [dict(t) for t in body.get("interConnect", [])]
        if not body["interConnect"]:
            del body["interConnect"]
        if not body["maintenance"].get("commands"):
            body["maintenance"].pop("commands", None)
        return body


def _refuse_both_names(data: dict[str, Any]) -> None:
    for name, info in Config.model_fields.items():
        if info.alias and info.alias != name and name in data and info.alias in data:
            raise ConfigurationError(
                f"invalid service configuration: Config.{name} given twice, as {name!r} "
                f"and as {info.alias!r}"
            )


def _describe(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(part) for part in err["loc"]) or "Config"
        message = err["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        if err["type"] == "missing":
            lines.append(f"Config.{loc} is required")
        elif err["type"] == "value_error" and "got " in message:
            lines.append(f"Config.{loc} {message}")  # our validators already say "got ..."
        elif err["type"] == "value_error":
            lines.append(f"Config.{loc}: {message}")
        else:
            lines.append(f"Config.{loc}: {message}, got {err.get('input')!r}")
    return "invalid service configuration: " + "; ".join(lines)
