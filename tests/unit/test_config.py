"""``soajs.Config``: the seed usage, wire and Python names, every error, the register body."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from pydantic import ValidationError

import soajs
from soajs import Config, ConfigurationError
from soajs.config import VERSION_PATTERN, InterConnectTarget
from tests.conftest import load_fixture

BASE: dict[str, Any] = {"name": "svc", "group": "grp", "port": 4000}
PREFIX = "invalid service configuration: "

#: the real body sent to gateway 4.3.4 by ``POST /register``
CAPTURED_BODY: dict[str, Any] = load_fixture("register_hello_response.json")["request"]["body"]


def make(**changes: Any) -> Config:
    return Config(**{**BASE, **changes})


def test_seed_usage() -> None:
    cfg = soajs.Config(
        name="my-service",
        group="my-group",
        port=4000,
        version="1.0",
        type="service",
        maintenance={"port": {"type": "inherit"}, "readiness": "/heartbeat"},
    )
    assert (cfg.name, cfg.group, cfg.port, cfg.version, cfg.type) == (
        "my-service",
        "my-group",
        4000,
        "1.0",
        "service",
    )
    assert (cfg.maintenance.port.type, cfg.maintenance.port.value) == ("inherit", None)
    assert cfg.maintenance.readiness == "/heartbeat"
    assert cfg.maintenance_port(1000) == 4000
    assert (cfg.service_name, cfg.service_group, cfg.service_port, cfg.service_version) == (
        "my-service",
        "my-group",
        4000,
        "1.0",
    )


DEFAULTS = [
    pytest.param("version", "1", id="version"),
    pytest.param("type", "service", id="type"),
    pytest.param("sub_type", None, id="sub_type"),
    pytest.param("description", None, id="description"),
    pytest.param("ip", None, id="ip"),
    pytest.param("oauth", False, id="oauth"),
    pytest.param("urac", False, id="urac"),
    pytest.param("urac_profile", False, id="urac_profile"),
    pytest.param("urac_acl", False, id="urac_acl"),
    pytest.param("urac_config", False, id="urac_config"),
    pytest.param("urac_group_config", False, id="urac_group_config"),
    pytest.param("tenant_profile", False, id="tenant_profile"),
    pytest.param("provision_acl", False, id="provision_acl"),
    pytest.param("ext_key_required", True, id="ext_key_required"),
    pytest.param("request_timeout", None, id="request_timeout"),
    pytest.param("request_timeout_renewal", None, id="request_timeout_renewal"),
    pytest.param("inter_connect", (), id="inter_connect"),
]


@pytest.mark.parametrize(("attr", "expected"), DEFAULTS)
def test_defaults(attr: str, expected: Any) -> None:
    assert getattr(make(), attr) == expected


def test_default_maintenance() -> None:
    maintenance = make().maintenance
    assert (maintenance.port.type, maintenance.port.value) == ("maintenance", None)
    assert (maintenance.readiness, maintenance.commands) == ("/heartbeat", ())


# -- wire names and Python names -------------------------------------------------------

NAMES = [
    pytest.param("extKeyRequired", "ext_key_required", False, id="extKeyRequired"),
    pytest.param("urac_Profile", "urac_profile", True, id="urac_Profile"),
    pytest.param("urac_ACL", "urac_acl", True, id="urac_ACL"),
    pytest.param("urac_Config", "urac_config", True, id="urac_Config"),
    pytest.param("urac_GroupConfig", "urac_group_config", True, id="urac_GroupConfig"),
    pytest.param("tenant_Profile", "tenant_profile", True, id="tenant_Profile"),
    pytest.param("provision_ACL", "provision_acl", True, id="provision_ACL"),
    pytest.param("requestTimeout", "request_timeout", 30, id="requestTimeout"),
    pytest.param("requestTimeoutRenewal", "request_timeout_renewal", 5, id="requestTimeoutRenewal"),
    pytest.param("subType", "sub_type", "soajs", id="subType"),
]


@pytest.mark.parametrize(("wire", "python", "value"), NAMES)
@pytest.mark.parametrize("given_as", ["wire", "python"])
def test_wire_and_python_names(given_as: str, wire: str, python: str, value: Any) -> None:
    key = wire if given_as == "wire" else python
    cfg = make(**{key: value})
    assert getattr(cfg, python) == value
    assert cfg.model_extra == {}
    body = cfg.registration_body()
    assert body[wire] == value
    assert python not in body


@pytest.mark.parametrize(("wire", "python", "value"), NAMES)
def test_python_name_never_reaches_the_wire(wire: str, python: str, value: Any) -> None:
    try:
        body = make(**{wire: value, python: value}).registration_body()
    except ConfigurationError:
        return  # refusing the duplicate is fine too
    assert python not in body


@pytest.mark.parametrize("key", ["interConnect", "inter_connect"])
def test_inter_connect_names(key: str) -> None:
    cfg = make(**{key: [{"name": "hello", "version": "1"}, {"name": "b", "version": 2}]})
    assert cfg.inter_connect == (
        InterConnectTarget(name="hello", version="1"),
        InterConnectTarget(name="b", version="2"),
    )
    assert cfg.registration_body()["interConnect"] == [
        {"name": "hello", "version": "1"},
        {"name": "b", "version": "2"},
    ]


# -- good values -----------------------------------------------------------------------

GOOD_VALUES = [
    pytest.param({"name": "a"}, "name", "a", id="name-one-letter"),
    pytest.param({"name": "my-service"}, "name", "my-service", id="name-dash"),
    pytest.param({"name": "my_service.v2"}, "name", "my_service.v2", id="name-underscore-dot"),
    pytest.param({"name": "Hello9"}, "name", "Hello9", id="name-upper-digit"),
    pytest.param({"group": "Holdout"}, "group", "Holdout", id="group"),
    pytest.param({"group": "my-group"}, "group", "my-group", id="group-dash"),
    pytest.param({"port": 1}, "port", 1, id="port-lowest"),
    pytest.param({"port": 65535}, "port", 65535, id="port-highest"),
    pytest.param({"port": "4381"}, "port", 4381, id="port-numeric-string"),
    pytest.param({"type": "service"}, "type", "service", id="type-service"),
    pytest.param({"type": "daemon"}, "type", "daemon", id="type-daemon"),
    pytest.param({"requestTimeout": 0}, "request_timeout", 0, id="request-timeout-zero"),
    pytest.param({"description": "hi"}, "description", "hi", id="description"),
    pytest.param({"ip": "10.0.0.7"}, "ip", "10.0.0.7", id="ip"),
]


@pytest.mark.parametrize(("changes", "attr", "expected"), GOOD_VALUES)
def test_good_value(changes: dict[str, Any], attr: str, expected: Any) -> None:
    assert getattr(make(**changes), attr) == expected


GOOD_MAINTENANCE = [
    pytest.param({"port": {"type": "maintenance"}}, "maintenance", None, id="type-maintenance"),
    pytest.param({"port": {"type": "inherit"}}, "inherit", None, id="type-inherit"),
    pytest.param({"port": {"type": "custom", "value": 4999}}, "custom", 4999, id="type-custom"),
    pytest.param({"port": {"type": "custom", "value": 1}}, "custom", 1, id="custom-lowest"),
    pytest.param({"port": {"type": "custom", "value": 65535}}, "custom", 65535, id="custom-top"),
    pytest.param({"port": {"type": "custom", "value": "4999"}}, "custom", 4999, id="custom-str"),
    pytest.param({"readiness": "/"}, "maintenance", None, id="readiness-root"),
    pytest.param({"readiness": "/health/ready"}, "maintenance", None, id="readiness-nested"),
]


@pytest.mark.parametrize(("maintenance", "port_type", "port_value"), GOOD_MAINTENANCE)
def test_good_maintenance(
    maintenance: dict[str, Any], port_type: str, port_value: int | None
) -> None:
    cfg = make(maintenance=maintenance)
    assert (cfg.maintenance.port.type, cfg.maintenance.port.value) == (port_type, port_value)
    assert cfg.maintenance.readiness == maintenance.get("readiness", "/heartbeat")


# -- version ---------------------------------------------------------------------------

GOOD_VERSIONS = [
    pytest.param("1", "1", id="major"),
    pytest.param("1.0", "1.0", id="major-minor"),
    pytest.param("10.25", "10.25", id="two-digit-parts"),
    pytest.param("0", "0", id="zero"),
    pytest.param(1, "1", id="int-coerced"),
    pytest.param(2.5, "2.5", id="float-coerced"),
]


@pytest.mark.parametrize(("value", "expected"), GOOD_VERSIONS)
def test_good_version(value: Any, expected: str) -> None:
    cfg = make(version=value)
    assert cfg.version == expected
    assert cfg.registration_body()["version"] == expected


BAD_VERSIONS = [
    pytest.param("1.0.0", id="three-parts"),
    pytest.param("v1", id="v-prefix"),
    pytest.param("1.", id="trailing-dot"),
    pytest.param(".1", id="leading-dot"),
    pytest.param("", id="empty"),
    pytest.param("a", id="letter"),
    pytest.param("1.a", id="letter-minor"),
    pytest.param("1,0", id="comma"),
    pytest.param(" 1", id="leading-space"),
    pytest.param("1 ", id="trailing-space"),
    pytest.param("1-beta", id="suffix"),
    pytest.param("1\n", id="trailing-newline"),
    pytest.param("\u0661", id="arabic-indic-digit"),
]


@pytest.mark.parametrize("value", BAD_VERSIONS)
def test_bad_version(value: str) -> None:
    with pytest.raises(ConfigurationError) as exc:
        make(version=value)
    assert str(exc.value) == f"{PREFIX}Config.version must match {VERSION_PATTERN}, got {value!r}"


def test_version_pattern_is_the_protocol_one() -> None:
    assert VERSION_PATTERN == r"^[0-9]+(\.[0-9]+)?$"


# -- every bad value -------------------------------------------------------------------

NAME_RULE = "must be letters, digits, '-', '_' or '.', not starting or ending with a symbol"
PATH_RULE = "must be a URL path starting with '/'"
GE1 = "Input should be greater than or equal to 1"
LE65535 = "Input should be less than or equal to 65535"

#: (changes to a good config, the exact part of the message about that field)
BAD_CONFIGS = [
    # name and group syntax
    pytest.param({"name": "-svc"}, f"Config.name {NAME_RULE}, got '-svc'", id="name-leading-dash"),
    pytest.param({"name": "svc-"}, f"Config.name {NAME_RULE}, got 'svc-'", id="name-trailing-dash"),
    pytest.param({"name": ".svc"}, f"Config.name {NAME_RULE}, got '.svc'", id="name-leading-dot"),
    pytest.param({"name": "my svc"}, f"Config.name {NAME_RULE}, got 'my svc'", id="name-space"),
    pytest.param({"name": "a/b"}, f"Config.name {NAME_RULE}, got 'a/b'", id="name-slash"),
    pytest.param({"name": ""}, f"Config.name {NAME_RULE}, got ''", id="name-empty"),
    pytest.param(
        {"name": "caf\u00e9"}, f"Config.name {NAME_RULE}, got 'caf\u00e9'", id="name-accent"
    ),
    pytest.param(
        {"name": "svc\n"}, f"Config.name {NAME_RULE}, got 'svc\\n'", id="name-trailing-newline"
    ),
    pytest.param(
        {"name": True}, "Config.name: Input should be a valid string, got True", id="name-bool"
    ),
    pytest.param({"group": "my group"}, f"Config.group {NAME_RULE}, got 'my group'", id="group"),
    pytest.param({"group": "_g"}, f"Config.group {NAME_RULE}, got '_g'", id="group-underscore"),
    # port range
    pytest.param({"port": 0}, f"Config.port: {GE1}, got 0", id="port-0"),
    pytest.param({"port": -1}, f"Config.port: {GE1}, got -1", id="port-negative"),
    pytest.param({"port": 65536}, f"Config.port: {LE65535}, got 65536", id="port-65536"),
    pytest.param(
        {"port": "http"},
        "Config.port: Input should be a valid integer, unable to parse string as an integer, "
        "got 'http'",
        id="port-word",
    ),
    pytest.param(
        {"port": 4000.5},
        "Config.port: Input should be a valid integer, got a number with a fractional part, "
        "got 4000.5",
        id="port-fraction",
    ),
    pytest.param({"port": True}, "Config.port must be an integer, got True", id="port-bool"),
    pytest.param({"port": None}, "Config.port: Input should be a valid integer", id="port-none"),
    # version type
    pytest.param(
        {"version": True}, "Config.version: Input should be a valid string", id="version-bool"
    ),
    # type
    pytest.param(
        {"type": "rest"},
        "Config.type: Input should be 'service' or 'daemon', got 'rest'",
        id="type",
    ),
    pytest.param(
        {"type": "Service"},
        "Config.type: Input should be 'service' or 'daemon', got 'Service'",
        id="type-case",
    ),
    pytest.param(
        {"type": ""}, "Config.type: Input should be 'service' or 'daemon', got ''", id="type-empty"
    ),
    # maintenance
    pytest.param(
        {"maintenance": "inherit"},
        "Config.maintenance: Input should be a valid dictionary or instance of Maintenance, "
        "got 'inherit'",
        id="maintenance-not-a-dict",
    ),
    pytest.param(
        {"maintenance": {"port": {"type": "random"}}},
        "Config.maintenance.port.type: Input should be 'maintenance', 'inherit' or 'custom', "
        "got 'random'",
        id="maintenance-port-type",
    ),
    pytest.param(
        {"maintenance": {"port": {"type": "custom"}}},
        "Config.maintenance.port: maintenance.port.type 'custom' needs maintenance.port.value",
        id="custom-without-value",
    ),
    pytest.param(
        {"maintenance": {"port": {"type": "custom", "value": None}}},
        "Config.maintenance.port: maintenance.port.type 'custom' needs maintenance.port.value",
        id="custom-value-none",
    ),
    pytest.param(
        {"maintenance": {"port": {"type": "custom", "value": 0}}},
        f"Config.maintenance.port.value: {GE1}, got 0",
        id="custom-value-0",
    ),
    pytest.param(
        {"maintenance": {"port": {"type": "custom", "value": 70000}}},
        f"Config.maintenance.port.value: {LE65535}, got 70000",
        id="custom-value-70000",
    ),
    pytest.param(
        {"maintenance": {"port": {"type": "custom", "value": True}}},
        "Config.maintenance.port.value must be an integer, got True",
        id="custom-value-bool",
    ),
    pytest.param(
        {"maintenance": {"readiness": "heartbeat"}},
        f"Config.maintenance.readiness {PATH_RULE}, got 'heartbeat'",
        id="readiness-no-slash",
    ),
    pytest.param(
        {"maintenance": {"readiness": ""}},
        f"Config.maintenance.readiness {PATH_RULE}, got ''",
        id="readiness-empty",
    ),
    pytest.param(
        {"maintenance": {"readiness": "/heart beat"}},
        f"Config.maintenance.readiness {PATH_RULE}, got '/heart beat'",
        id="readiness-space",
    ),
    pytest.param(
        {"maintenance": {"readiness": "/heartbeat\n"}},
        f"Config.maintenance.readiness {PATH_RULE}, got '/heartbeat\\n'",
        id="readiness-newline",
    ),
    pytest.param(
        {"maintenance": {"readiness": "http://x/heartbeat"}},
        f"Config.maintenance.readiness {PATH_RULE}, got 'http://x/heartbeat'",
        id="readiness-url",
    ),
    pytest.param(
        {"maintenance": {"commands": [{"label": "Reload"}]}},
        "Config.maintenance.commands.0.path is required",
        id="command-without-path",
    ),
    # inter-connect
    pytest.param(
        {"interConnect": [{"name": "b", "version": "1.0.0"}]},
        f"Config.interConnect.0.version must match {VERSION_PATTERN}, got '1.0.0'",
        id="inter-connect-version",
    ),
    pytest.param(
        {"interConnect": [{"name": "b"}]},
        "Config.interConnect.0.version is required",
        id="inter-connect-no-version",
    ),
    pytest.param(
        {"interConnect": "hello"},
        "Config.interConnect: Input should be a valid tuple, got 'hello'",
        id="inter-connect-not-a-list",
    ),
    # flags and numbers, under either name
    pytest.param(
        {"extKeyRequired": "maybe"},
        "Config.extKeyRequired: Input should be a valid boolean, unable to interpret input, "
        "got 'maybe'",
        id="ext-key-required-wire",
    ),
    pytest.param(
        {"ext_key_required": "maybe"},
        "Config.ext_key_required: Input should be a valid boolean",
        id="ext-key-required-python",
    ),
    pytest.param(
        {"urac_Profile": "maybe"},
        "Config.urac_Profile: Input should be a valid boolean",
        id="urac-profile",
    ),
    pytest.param(
        {"requestTimeout": -1},
        "Config.requestTimeout: Input should be greater than or equal to 0, got -1",
        id="request-timeout-negative",
    ),
    pytest.param(
        {"requestTimeout": True},
        "Config.requestTimeout must be an integer, got True",
        id="request-timeout-bool",
    ),
    pytest.param(
        {"requestTimeoutRenewal": "often"},
        "Config.requestTimeoutRenewal: Input should be a valid integer",
        id="request-timeout-renewal-word",
    ),
]


@pytest.mark.parametrize(("changes", "expected"), BAD_CONFIGS)
def test_bad_value(changes: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigurationError) as exc:
        Config(**{**BASE, **changes})
    assert not isinstance(exc.value, ValidationError)
    assert isinstance(exc.value, ValueError)
    assert exc.value.__cause__ is None
    message = str(exc.value)
    assert message.startswith(PREFIX)
    assert message.count(PREFIX) == 1
    assert expected in message
    assert "errors.pydantic.dev" not in message


MODEL_VALIDATE_ERRORS = [
    pytest.param({**BASE, "port": 0}, "Config.port", id="port"),
    pytest.param({**BASE, "version": "v1"}, "Config.version", id="version"),
    pytest.param({**BASE, "type": "rest"}, "Config.type", id="type"),
    pytest.param({"name": "n", "group": "g"}, "Config.port is required", id="missing-port"),
]


@pytest.mark.parametrize(("data", "expected"), MODEL_VALIDATE_ERRORS)
def test_model_validate_gives_the_constructor_message(data: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigurationError) as direct:
        Config(**data)
    with pytest.raises(ConfigurationError) as validated:
        Config.model_validate(data)
    with pytest.raises(ConfigurationError) as from_json:
        Config.model_validate_json(json.dumps(data))
    assert expected in str(direct.value)
    assert str(validated.value) == str(direct.value) == str(from_json.value)


NOT_A_CONFIG = [
    pytest.param(lambda: Config.model_validate([]), "expected a mapping, got list", id="list"),
    pytest.param(
        lambda: Config.model_validate(None), "expected a mapping, got NoneType", id="none"
    ),
    pytest.param(lambda: Config.model_validate("{}"), "expected a mapping, got str", id="str"),
    pytest.param(lambda: Config.model_validate_json("[1]"), "got list", id="json-list"),
    pytest.param(lambda: Config.model_validate_json("{nope"), "not JSON", id="json-broken"),
    pytest.param(lambda: Config.model_validate_json(b"\xff"), "not JSON", id="json-bad-utf8"),
]


@pytest.mark.parametrize(("call", "expected"), NOT_A_CONFIG)
def test_not_a_configuration(call: Any, expected: str) -> None:
    with pytest.raises(ConfigurationError) as exc:
        call()
    assert str(exc.value).startswith(PREFIX)
    assert expected in str(exc.value)


MISSING = [
    pytest.param({}, ["name", "group", "port"], id="nothing"),
    pytest.param({"group": "g", "port": 1}, ["name"], id="no-name"),
    pytest.param({"name": "n", "port": 1}, ["group"], id="no-group"),
    pytest.param({"name": "n", "group": "g"}, ["port"], id="no-port"),
]


@pytest.mark.parametrize(("data", "missing"), MISSING)
def test_missing_required(data: dict[str, Any], missing: list[str]) -> None:
    with pytest.raises(ConfigurationError) as exc:
        Config(**data)
    assert str(exc.value) == PREFIX + "; ".join(f"Config.{f} is required" for f in missing)


def test_several_errors_are_all_reported() -> None:
    with pytest.raises(ConfigurationError) as exc:
        make(port=0, type="rest", version="v1")
    message = str(exc.value)
    assert message.count("; ") == 2
    for field in ("Config.port", "Config.type", "Config.version"):
        assert field in message


# -- POST /register body ---------------------------------------------------------------


def _captured_config() -> Config:
    return Config.model_validate(copy.deepcopy(CAPTURED_BODY))


@pytest.mark.parametrize("key", list(CAPTURED_BODY))
def test_registration_body_key_matches_captured(key: str) -> None:
    body = _captured_config().registration_body(ip="127.0.0.1")
    assert body[key] == CAPTURED_BODY[key]
    assert type(body[key]) is type(CAPTURED_BODY[key])


CAPTURED_INPUTS = [
    pytest.param([], id="captured-body-as-is"),
    pytest.param(["mw"], id="without-mw"),
    pytest.param(["mw", "ip"], id="without-mw-and-ip"),
]


@pytest.mark.parametrize("dropped", CAPTURED_INPUTS)
def test_registration_body_matches_captured(dropped: list[str]) -> None:
    data = {k: v for k, v in copy.deepcopy(CAPTURED_BODY).items() if k not in dropped}
    body = Config.model_validate(data).registration_body(ip="127.0.0.1")
    assert sorted(body) == sorted(CAPTURED_BODY)
    assert body == CAPTURED_BODY
    assert json.loads(json.dumps(body)) == body


def test_captured_body_from_python_names() -> None:
    cfg = Config(
        name="hello",
        description="holdout hello",
        type="service",
        sub_type="soajs",
        group="Holdout",
        port=4381,
        version=1,
        tenant_profile=True,
        provision_acl=True,
        ext_key_required=True,
        request_timeout=30,
        request_timeout_renewal=5,
        inter_connect=[{"name": "hello", "version": "1"}],
        apiList=CAPTURED_BODY["apiList"],
        maintenance={
            "port": {"type": "maintenance"},
            "readiness": "/heartbeat",
            "commands": [
                {"label": "Reload Registry", "path": "/reloadRegistry", "icon": "fas fa-undo"}
            ],
        },
    )
    assert cfg.registration_body(ip="127.0.0.1") == CAPTURED_BODY


def test_captured_body_details() -> None:
    body = _captured_config().registration_body(ip="127.0.0.1")
    assert body["mw"] is True
    assert body["ip"] == "127.0.0.1"
    assert body["interConnect"] == [{"name": "hello", "version": "1"}]
    assert type(body["interConnect"]) is list
    assert type(body["interConnect"][0]) is dict
    assert body["maintenance"] == {
        "port": {"type": "maintenance"},
        "readiness": "/heartbeat",
        "commands": [
            {"label": "Reload Registry", "path": "/reloadRegistry", "icon": "fas fa-undo"}
        ],
    }
    assert body["apiList"] == CAPTURED_BODY["apiList"]


def test_minimal_registration_body() -> None:
    assert make().registration_body() == {
        "name": "svc",
        "group": "grp",
        "port": 4000,
        "ip": "127.0.0.1",
        "version": "1",
        "type": "service",
        "mw": True,
        "oauth": False,
        "urac": False,
        "urac_Profile": False,
        "urac_ACL": False,
        "urac_Config": False,
        "urac_GroupConfig": False,
        "tenant_Profile": False,
        "provision_ACL": False,
        "extKeyRequired": True,
        "maintenance": {"port": {"type": "maintenance"}, "readiness": "/heartbeat"},
    }


REGISTER_IP = [
    pytest.param({}, None, "127.0.0.1", id="default"),
    pytest.param({"ip": "10.0.0.7"}, None, "10.0.0.7", id="from-config"),
    pytest.param({}, "10.0.0.9", "10.0.0.9", id="from-argument"),
    pytest.param({"ip": "10.0.0.7"}, "10.0.0.9", "10.0.0.9", id="argument-wins"),
    pytest.param({"ip": "10.0.0.7"}, "", "10.0.0.7", id="empty-argument-is-no-argument"),
]


@pytest.mark.parametrize(("changes", "ip", "expected"), REGISTER_IP)
def test_registration_ip(changes: dict[str, Any], ip: str | None, expected: str) -> None:
    assert make(**changes).registration_body(ip=ip)["ip"] == expected


UNKNOWN_KEYS = [
    pytest.param({"apiList": [{"l": "x", "v": "/x", "m": "get"}]}, id="apiList"),
    pytest.param({"prerequisites": {"cpu": "", "memory": ""}}, id="prerequisites"),
    pytest.param({"swagger": False}, id="swagger"),
    pytest.param({"schema": {"commonFields": {}}}, id="schema"),
    pytest.param(
        {"self": "x"},
        id="self",
    ),
]


@pytest.mark.parametrize("extra", UNKNOWN_KEYS)
def test_unknown_keys_are_kept(extra: dict[str, Any]) -> None:
    body = Config.model_validate({**BASE, **extra}).registration_body()
    for key, value in extra.items():
        assert body[key] == value


def test_mw_is_always_true() -> None:
    assert make(mw=False).registration_body()["mw"] is True


OPTIONAL_IN_BODY = [
    pytest.param({}, [], ["interConnect", "subType", "description", "requestTimeout"], id="none"),
    pytest.param({"interConnect": []}, [], ["interConnect"], id="empty-inter-connect"),
    pytest.param({"subType": "soajs"}, ["subType"], [], id="sub-type"),
    pytest.param({"requestTimeout": 0}, ["requestTimeout"], [], id="request-timeout-zero"),
]


@pytest.mark.parametrize(("changes", "present", "absent"), OPTIONAL_IN_BODY)
def test_optional_keys_in_body(
    changes: dict[str, Any], present: list[str], absent: list[str]
) -> None:
    body = make(**changes).registration_body()
    for key in present:
        assert key in body
    for key in absent:
        assert key not in body


BODY_MAINTENANCE = [
    pytest.param({}, {"port": {"type": "maintenance"}, "readiness": "/heartbeat"}, id="default"),
    pytest.param(
        {"port": {"type": "custom", "value": 4999}},
        {"port": {"type": "custom", "value": 4999}, "readiness": "/heartbeat"},
        id="custom-value-sent",
    ),
    pytest.param(
        {"commands": []},
        {"port": {"type": "maintenance"}, "readiness": "/heartbeat"},
        id="no-commands-key-when-empty",
    ),
    pytest.param(
        {"commands": [{"label": "L", "path": "/p"}]},
        {
            "port": {"type": "maintenance"},
            "readiness": "/heartbeat",
            "commands": [{"label": "L", "path": "/p"}],
        },
        id="command-without-icon",
    ),
]


@pytest.mark.parametrize(("maintenance", "expected"), BODY_MAINTENANCE)
def test_maintenance_in_body(maintenance: dict[str, Any], expected: dict[str, Any]) -> None:
    assert make(maintenance=maintenance).registration_body()["maintenance"] == expected


def test_registration_body_is_a_fresh_copy() -> None:
    cfg = _captured_config()
    body = cfg.registration_body()
    body["maintenance"]["readiness"] = "/changed"
    body["apiList"].append({"l": "x"})
    body["interConnect"][0]["version"] = "9"
    assert cfg.registration_body() == CAPTURED_BODY


# -- maintenance port ------------------------------------------------------------------

MAINTENANCE_PORTS = [
    pytest.param({"port": {"type": "maintenance"}}, 1000, 5000, id="maintenance-plus-inc"),
    pytest.param({"port": {"type": "maintenance"}}, 1, 4001, id="maintenance-plus-other-inc"),
    pytest.param({"port": {"type": "maintenance"}}, 0, 4000, id="maintenance-inc-zero"),
    pytest.param({"port": {"type": "maintenance"}}, None, 5000, id="maintenance-default-inc"),
    pytest.param({}, 1000, 5000, id="default-is-maintenance"),
    pytest.param({"port": {"type": "inherit"}}, 1000, 4000, id="inherit"),
    pytest.param({"port": {"type": "inherit"}}, None, 4000, id="inherit-no-inc"),
    pytest.param({"port": {"type": "custom", "value": 4999}}, 1000, 4999, id="custom"),
    pytest.param({"port": {"type": "custom", "value": 4999}}, None, 4999, id="custom-no-inc"),
    pytest.param(
        {"port": {"type": "maintenance", "value": 4999}},
        1000,
        5000,
        id="value-ignored-unless-custom",
    ),
]


@pytest.mark.parametrize(("maintenance", "inc", "expected"), MAINTENANCE_PORTS)
def test_maintenance_port(maintenance: dict[str, Any], inc: int | None, expected: int) -> None:
    assert make(maintenance=maintenance).maintenance_port(inc) == expected


#: (service port, maintenanceInc) whose sum is no TCP port: a clear error, not an OverflowError
BAD_MAINTENANCE_PORTS = [
    pytest.param(64600, None, "64600 + maintenanceInc 1000 = 65600", id="default-inc-overflows"),
    pytest.param(65535, 1, "65535 + maintenanceInc 1 = 65536", id="one-past-the-end"),
    pytest.param(4000, 10**9, "= 1000004000", id="absurd-inc"),
    pytest.param(4000, -4000, "4000 + maintenanceInc -4000 = 0", id="negative-inc-to-zero"),
]


@pytest.mark.parametrize(("port", "inc", "text"), BAD_MAINTENANCE_PORTS)
def test_maintenance_port_out_of_range_is_a_configuration_error(
    port: int, inc: int | None, text: str
) -> None:
    cfg = make(port=port)
    with pytest.raises(ConfigurationError, match="maintenance port out of range") as info:
        cfg.maintenance_port(inc)
    assert text in str(info.value)
    assert "inherit" in str(info.value)  # says how to fix it
    # the other types do not depend on the increment
    assert make(port=port, maintenance={"port": {"type": "inherit"}}).maintenance_port(inc) == port


def test_maintenance_inc_must_be_an_integer() -> None:
    with pytest.raises(ConfigurationError, match="maintenanceInc must be an integer"):
        make().maintenance_port("1000")  # type: ignore[arg-type]


# -- frozen ----------------------------------------------------------------------------

ASSIGNMENTS = [
    pytest.param(lambda c: setattr(c, "port", 5000), id="field"),
    pytest.param(lambda c: setattr(c, "ext_key_required", False), id="aliased-field"),
    pytest.param(lambda c: setattr(c, "apiList", []), id="unknown-field"),
    pytest.param(lambda c: setattr(c, "brand_new", 1), id="new-attribute"),
    pytest.param(lambda c: setattr(c.maintenance, "readiness", "/x"), id="maintenance"),
    pytest.param(lambda c: setattr(c.maintenance.port, "type", "inherit"), id="maintenance-port"),
    pytest.param(lambda c: setattr(c.inter_connect[0], "version", "2"), id="inter-connect"),
]


@pytest.mark.parametrize("assign", ASSIGNMENTS)
def test_config_is_frozen(assign: Any) -> None:
    cfg = _captured_config()
    with pytest.raises(ValidationError, match="frozen"):
        assign(cfg)
    assert cfg.registration_body() == CAPTURED_BODY


def test_frozen_config_is_hashable_and_comparable() -> None:
    assert _captured_config() == _captured_config()
    assert hash(make()) == hash(make())
    assert make() != make(port=4001)


def test_config_does_not_share_the_callers_values() -> None:
    data = copy.deepcopy(CAPTURED_BODY)
    cfg = Config.model_validate(data)
    data["apiList"].append({"l": "added later", "v": "/later", "m": "get"})
    data["apiList"][0]["v"] = "/changed"
    assert cfg.registration_body(ip="127.0.0.1") == CAPTURED_BODY
