"""``soajs.Settings``: every SOAJS_* variable, its good values and every error message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from soajs import ConfigurationError, SoajsError
from soajs.settings import DEFAULT_MAX_INJECT_HEADER_SIZE, Settings

# -- SOAJS_REGISTRY_API ----------------------------------------------------------------

IPV6_HINT = " (write an IPv6 host as [addr]:port)"
INT_HINT = " (the port must be an integer)"
RANGE_HINT = " (the port must be between 1 and 65535)"
HOST_HINT = " (not a host name)"

BAD_REGISTRY_API = [
    pytest.param("localhost", "", id="no-port"),
    pytest.param("localhost:", "", id="empty-port"),
    pytest.param("host:", "", id="host-colon"),
    pytest.param(":5000", "", id="no-host"),
    pytest.param(":", "", id="colon-only"),
    pytest.param("[]:5000", "", id="empty-brackets"),
    pytest.param("[::1:5000", "", id="unclosed-bracket"),
    pytest.param("host:abc", INT_HINT, id="port-not-a-number"),
    pytest.param("host:-1", INT_HINT, id="negative-port"),
    pytest.param("host:5000.0", INT_HINT, id="float-port"),
    pytest.param("host:0", RANGE_HINT, id="port-zero"),
    pytest.param("host:65536", RANGE_HINT, id="port-65536"),
    pytest.param("host:70000", RANGE_HINT, id="port-70000"),
    pytest.param("a b:1", HOST_HINT, id="space-in-host"),
    pytest.param("host/path:80", HOST_HINT, id="slash-in-host"),
    pytest.param("user@host:80", HOST_HINT, id="userinfo"),
    pytest.param("::1:5000", IPV6_HINT, id="unbracketed-v6"),
    pytest.param("fe80::1:80", IPV6_HINT, id="unbracketed-v6-link-local"),
    pytest.param(
        "host:\u00b2",
        INT_HINT,
        id="superscript-digit-port",
    ),
]


@pytest.mark.parametrize(("value", "hint"), BAD_REGISTRY_API)
def test_bad_registry_api(value: str, hint: str) -> None:
    with pytest.raises(ConfigurationError) as exc:
        Settings.from_env({"SOAJS_REGISTRY_API": value})
    assert str(exc.value) == f"SOAJS_REGISTRY_API must be host:port, got {value!r}{hint}"


def test_registry_api_message_is_exact() -> None:
    with pytest.raises(ConfigurationError) as exc:
        Settings.from_env({"SOAJS_REGISTRY_API": "localhost"})
    assert str(exc.value) == "SOAJS_REGISTRY_API must be host:port, got 'localhost'"


GOOD_REGISTRY_API = [
    pytest.param("localhost:5000", "localhost:5000", ("localhost", 5000), id="name"),
    pytest.param("127.0.0.1:5000", "127.0.0.1:5000", ("127.0.0.1", 5000), id="ipv4"),
    pytest.param("[::1]:5000", "[::1]:5000", ("::1", 5000), id="bracketed-v6"),
    pytest.param(" host:80 ", "host:80", ("host", 80), id="surrounding-spaces"),
    pytest.param("host:1", "host:1", ("host", 1), id="lowest-port"),
    pytest.param("host:65535", "host:65535", ("host", 65535), id="highest-port"),
    pytest.param("host:05000", "host:5000", ("host", 5000), id="leading-zero-port"),
]


@pytest.mark.parametrize(("value", "stored", "host_port"), GOOD_REGISTRY_API)
def test_good_registry_api(value: str, stored: str, host_port: tuple[str, int]) -> None:
    settings = Settings.from_env({"SOAJS_REGISTRY_API": value})
    assert settings.registry_api == stored
    assert settings.require_registry_api() == host_port
    assert settings.registry_url == f"http://{stored}"


# -- every other variable: bad values --------------------------------------------------

ENV_CODE = "must be an environment code such as 'dev'"
IP = "must be an IP address"
BYTES = "must be a positive integer (bytes)"
NETWORKS = "must be a comma-separated list of IPs or CIDRs (or '*')"
NO_NETWORK = "must list at least one IP, CIDR or '*'"
SECONDS = "must be a positive number of seconds"
CACHE = "must be an integer >= 0"

BAD_VALUES = [
    pytest.param("SOAJS_ENV", "dev!", ENV_CODE, id="env-punctuation"),
    pytest.param("SOAJS_ENV", "de v", ENV_CODE, id="env-space"),
    pytest.param("SOAJS_ENV", "dev/stg", ENV_CODE, id="env-slash"),
    pytest.param("SOAJS_ENV", "dev.1", ENV_CODE, id="env-dot"),
    pytest.param("SOAJS_SRVIP", "localhost", IP, id="srvip-name"),
    pytest.param("SOAJS_SRVIP", "256.0.0.1", IP, id="srvip-octet-too-big"),
    pytest.param("SOAJS_SRVIP", "10.0.0", IP, id="srvip-three-octets"),
    pytest.param("SOAJS_SRVIP", "10.0.0.0/8", IP, id="srvip-cidr"),
    pytest.param("SOAJS_SRVIP", "::g", IP, id="srvip-bad-v6"),
    pytest.param("SOAJS_MAX_INJECT_HEADER_SIZE", "0", BYTES, id="max-size-zero"),
    pytest.param("SOAJS_MAX_INJECT_HEADER_SIZE", "-1", BYTES, id="max-size-negative"),
    pytest.param("SOAJS_MAX_INJECT_HEADER_SIZE", "abc", BYTES, id="max-size-word"),
    pytest.param("SOAJS_MAX_INJECT_HEADER_SIZE", "1.5", BYTES, id="max-size-float"),
    pytest.param("SOAJS_MAX_INJECT_HEADER_SIZE", "64k", BYTES, id="max-size-unit"),
    pytest.param("SOAJS_MAX_INJECT_HEADER_SIZE", "0x10", BYTES, id="max-size-hex"),
    pytest.param("SOAJS_TRUSTED_GATEWAYS", "gateway", NETWORKS, id="trusted-name"),
    pytest.param("SOAJS_TRUSTED_GATEWAYS", "10.0.0.1,nope", NETWORKS, id="trusted-one-bad"),
    pytest.param("SOAJS_TRUSTED_GATEWAYS", "10.0.0.0/33", NETWORKS, id="trusted-bad-prefix"),
    pytest.param("SOAJS_TRUSTED_GATEWAYS", "10.0.0.1;10.0.0.2", NETWORKS, id="trusted-semicolon"),
    pytest.param("SOAJS_TRUSTED_GATEWAYS", " , ", NO_NETWORK, id="trusted-only-commas"),
    pytest.param("SOAJS_REGISTRY_TIMEOUT", "0", SECONDS, id="timeout-zero"),
    pytest.param("SOAJS_REGISTRY_TIMEOUT", "-1", SECONDS, id="timeout-negative"),
    pytest.param("SOAJS_REGISTRY_TIMEOUT", "abc", SECONDS, id="timeout-word"),
    pytest.param("SOAJS_REGISTRY_TIMEOUT", "5s", SECONDS, id="timeout-unit"),
    pytest.param("SOAJS_REGISTRY_TIMEOUT", "nan", SECONDS, id="timeout-nan"),
    pytest.param("SOAJS_REGISTRY_TIMEOUT", "inf", SECONDS, id="timeout-inf"),
    pytest.param("SOAJS_REGISTRY_TIMEOUT", "1e400", SECONDS, id="timeout-overflows-to-inf"),
    pytest.param("SOAJS_CONTEXT_CACHE_SIZE", "-1", CACHE, id="cache-negative"),
    pytest.param("SOAJS_CONTEXT_CACHE_SIZE", "many", CACHE, id="cache-word"),
    pytest.param("SOAJS_CONTEXT_CACHE_SIZE", "1.5", CACHE, id="cache-float"),
]


@pytest.mark.parametrize(("var", "value", "expected"), BAD_VALUES)
def test_bad_value_message(var: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigurationError) as exc:
        Settings.from_env({var: value})
    message = str(exc.value)
    assert message.startswith(f"{var} {expected}")
    assert repr(value) in message


def test_bad_trusted_gateway_names_the_bad_item() -> None:
    with pytest.raises(ConfigurationError) as exc:
        Settings.from_env({"SOAJS_TRUSTED_GATEWAYS": "10.0.0.1, nope ,*"})
    assert str(exc.value) == (
        "SOAJS_TRUSTED_GATEWAYS must be a comma-separated list of IPs or CIDRs (or '*'), "
        "got 'nope' in '10.0.0.1, nope ,*'"
    )


# -- every other variable: good values -------------------------------------------------

GOOD_VALUES = [
    pytest.param("SOAJS_ENV", "dev", "env", "dev", id="env"),
    pytest.param("SOAJS_ENV", "DEV", "env", "dev", id="env-lower-cased"),
    pytest.param("SOAJS_ENV", " Stg-1 ", "env", "stg-1", id="env-stripped-dash"),
    pytest.param("SOAJS_ENV", "my_env", "env", "my_env", id="env-underscore"),
    pytest.param("SOAJS_DEPLOY_HA", "kubernetes", "deploy_ha", "kubernetes", id="deploy-ha"),
    pytest.param("SOAJS_DEPLOY_HA", " swarm ", "deploy_ha", "swarm", id="deploy-ha-stripped"),
    pytest.param("SOAJS_SRVIP", "10.0.0.5", "srv_ip", "10.0.0.5", id="srvip-v4"),
    pytest.param("SOAJS_SRVIP", " 10.0.0.5 ", "srv_ip", "10.0.0.5", id="srvip-stripped"),
    pytest.param("SOAJS_SRVIP", "0:0:0:0:0:0:0:1", "srv_ip", "::1", id="srvip-v6-normalised"),
    pytest.param("SOAJS_MAX_INJECT_HEADER_SIZE", "1", "max_inject_header_size", 1, id="max-1"),
    pytest.param(
        "SOAJS_MAX_INJECT_HEADER_SIZE", " 1024 ", "max_inject_header_size", 1024, id="max-spaces"
    ),
    pytest.param("SOAJS_TRUSTED_GATEWAYS", "*", "trusted_gateways", ("*",), id="trusted-any"),
    pytest.param(
        "SOAJS_TRUSTED_GATEWAYS", "10.0.0.1", "trusted_gateways", ("10.0.0.1/32",), id="trusted-ip"
    ),
    pytest.param(
        "SOAJS_TRUSTED_GATEWAYS",
        "10.1.2.3/8",
        "trusted_gateways",
        ("10.0.0.0/8",),
        id="trusted-host-bits-dropped",
    ),
    pytest.param(
        "SOAJS_TRUSTED_GATEWAYS",
        "10.0.0.1, ,::1,*",
        "trusted_gateways",
        ("10.0.0.1/32", "::1/128", "*"),
        id="trusted-list-blank-items-skipped",
    ),
    pytest.param("SOAJS_REGISTRY_TIMEOUT", "2.5", "registry_timeout", 2.5, id="timeout-float"),
    pytest.param("SOAJS_REGISTRY_TIMEOUT", "10", "registry_timeout", 10.0, id="timeout-int"),
    pytest.param("SOAJS_CONTEXT_CACHE_SIZE", "0", "context_cache_size", 0, id="cache-disabled"),
    pytest.param("SOAJS_CONTEXT_CACHE_SIZE", "10", "context_cache_size", 10, id="cache-10"),
]


@pytest.mark.parametrize(("var", "value", "attr", "expected"), GOOD_VALUES)
def test_good_value(var: str, value: str, attr: str, expected: Any) -> None:
    assert getattr(Settings.from_env({var: value}), attr) == expected


DEPLOY_MANUAL = [
    pytest.param("true", True, id="true"),
    pytest.param("TRUE", True, id="TRUE"),
    pytest.param("1", True, id="one"),
    pytest.param(" True ", True, id="spaced-True"),
    pytest.param("false", False, id="false"),
    pytest.param("0", False, id="zero"),
    pytest.param("yes", False, id="yes-is-not-true"),
    pytest.param("on", False, id="on-is-not-true"),
    pytest.param("2", False, id="two"),
    pytest.param("", False, id="empty"),
]


@pytest.mark.parametrize(("value", "expected"), DEPLOY_MANUAL)
def test_deploy_manual(value: str, expected: bool) -> None:
    assert Settings.from_env({"SOAJS_DEPLOY_MANUAL": value}).deploy_manual is expected


DEFAULTS = [
    pytest.param("registry_api", None, id="registry_api"),
    pytest.param("env", None, id="env"),
    pytest.param("deploy_manual", False, id="deploy_manual"),
    pytest.param("deploy_ha", None, id="deploy_ha"),
    pytest.param("srv_ip", "127.0.0.1", id="srv_ip"),
    pytest.param("max_inject_header_size", 65536, id="max_inject_header_size"),
    pytest.param("trusted_gateways", None, id="trusted_gateways"),
    pytest.param("registry_timeout", 5.0, id="registry_timeout"),
    pytest.param("context_cache_size", 1024, id="context_cache_size"),
]


@pytest.mark.parametrize(("attr", "expected"), DEFAULTS)
@pytest.mark.parametrize(
    "environ",
    [
        pytest.param({}, id="unset"),
        pytest.param({var: "  " for var in Settings.variables().values()}, id="blank"),
    ],
)
def test_defaults(environ: dict[str, str], attr: str, expected: Any) -> None:
    assert getattr(Settings.from_env(environ), attr) == expected


def test_default_max_inject_header_size_constant() -> None:
    assert DEFAULT_MAX_INJECT_HEADER_SIZE == 65536


def test_variables_map_every_attribute() -> None:
    assert Settings.variables() == {
        "registry_api": "SOAJS_REGISTRY_API",
        "env": "SOAJS_ENV",
        "deploy_manual": "SOAJS_DEPLOY_MANUAL",
        "deploy_ha": "SOAJS_DEPLOY_HA",
        "srv_ip": "SOAJS_SRVIP",
        "max_inject_header_size": "SOAJS_MAX_INJECT_HEADER_SIZE",
        "trusted_gateways": "SOAJS_TRUSTED_GATEWAYS",
        "registry_timeout": "SOAJS_REGISTRY_TIMEOUT",
        "context_cache_size": "SOAJS_CONTEXT_CACHE_SIZE",
    }


def test_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOAJS_REGISTRY_API", "10.0.0.2:5000")
    monkeypatch.setenv("SOAJS_ENV", "DEV")
    settings = Settings.from_env()
    assert settings.registry_api == "10.0.0.2:5000"
    assert settings.env == "dev"


def test_explicit_environ_ignores_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOAJS_ENV", "prod")
    assert Settings.from_env({}).env is None


# -- keyword overrides -----------------------------------------------------------------

OVERRIDE_WINS = [
    pytest.param("SOAJS_REGISTRY_API", "a:1", "registry_api", "b:2", "b:2", id="registry_api"),
    pytest.param("SOAJS_ENV", "dev", "env", "STG", "stg", id="env-lower-cased"),
    pytest.param("SOAJS_DEPLOY_MANUAL", "false", "deploy_manual", True, True, id="manual-on"),
    pytest.param("SOAJS_DEPLOY_MANUAL", "true", "deploy_manual", False, False, id="manual-off"),
    pytest.param("SOAJS_DEPLOY_MANUAL", "true", "deploy_manual", "0", False, id="manual-str"),
    pytest.param("SOAJS_DEPLOY_HA", "swarm", "deploy_ha", "kubernetes", "kubernetes", id="ha"),
    pytest.param("SOAJS_SRVIP", "10.0.0.1", "srv_ip", "10.0.0.2", "10.0.0.2", id="srv_ip"),
    pytest.param(
        "SOAJS_MAX_INJECT_HEADER_SIZE", "100", "max_inject_header_size", 200, 200, id="max-size"
    ),
    pytest.param(
        "SOAJS_TRUSTED_GATEWAYS",
        "*",
        "trusted_gateways",
        ["10.0.0.1", "10.1.0.0/16"],
        ("10.0.0.1/32", "10.1.0.0/16"),
        id="trusted-list",
    ),
    pytest.param("SOAJS_REGISTRY_TIMEOUT", "5", "registry_timeout", 0.5, 0.5, id="timeout"),
    pytest.param("SOAJS_CONTEXT_CACHE_SIZE", "10", "context_cache_size", 0, 0, id="cache-zero"),
    pytest.param("SOAJS_ENV", "dev", "env", None, "dev", id="none-keeps-env"),
]


@pytest.mark.parametrize(("var", "env_value", "attr", "override", "expected"), OVERRIDE_WINS)
def test_override_wins_over_env(
    var: str, env_value: str, attr: str, override: Any, expected: Any
) -> None:
    settings = Settings.from_env({var: env_value}, **{attr: override})
    assert getattr(settings, attr) == expected


BAD_OVERRIDES = [
    pytest.param("registry_api", "x", "must be host:port", id="registry_api"),
    pytest.param("registry_api", "", "must be host:port", id="registry_api-empty"),
    pytest.param("registry_api", "host:0", "must be host:port", id="registry_api-port-0"),
    pytest.param("env", "dev!", ENV_CODE, id="env"),
    pytest.param("env", "", ENV_CODE, id="env-empty"),
    pytest.param("srv_ip", "localhost", IP, id="srv_ip"),
    pytest.param("max_inject_header_size", 0, BYTES, id="max-size-zero"),
    pytest.param("max_inject_header_size", True, BYTES, id="max-size-bool"),
    pytest.param("max_inject_header_size", 1.5, BYTES, id="max-size-float"),
    pytest.param("trusted_gateways", "nope", NETWORKS, id="trusted-str"),
    pytest.param("trusted_gateways", ["10.0.0.1", "bad"], NETWORKS, id="trusted-list"),
    pytest.param("trusted_gateways", [], NO_NETWORK, id="trusted-empty-list"),
    pytest.param("registry_timeout", 0, SECONDS, id="timeout-zero"),
    pytest.param("registry_timeout", float("nan"), SECONDS, id="timeout-nan"),
    pytest.param("context_cache_size", -1, CACHE, id="cache-negative"),
    pytest.param("context_cache_size", False, CACHE, id="cache-bool"),
]


@pytest.mark.parametrize(("name", "value", "expected"), BAD_OVERRIDES)
@pytest.mark.parametrize(
    "via",
    [
        pytest.param(lambda kw: Settings.from_env({}, **kw), id="from_env"),
        pytest.param(lambda kw: Settings().override(**kw), id="override"),
    ],
)
def test_bad_override_names_the_argument(
    via: Callable[[dict[str, Any]], Settings], name: str, value: Any, expected: str
) -> None:
    with pytest.raises(ConfigurationError) as exc:
        via({name: value})
    message = str(exc.value)
    assert message.startswith(f"{name} {expected}")
    assert repr(value) in message
    assert "SOAJS_" not in message


def test_override_message_is_exact() -> None:
    with pytest.raises(ConfigurationError) as exc:
        Settings.from_env({}, registry_api="x")
    assert str(exc.value) == "registry_api must be host:port, got 'x'"


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"registry": "a:1"}, id="misspelt"),
        pytest.param({"SOAJS_ENV": "dev"}, id="variable-name"),
        pytest.param({"env_code": "dev"}, id="env_code"),
        pytest.param({"env": "dev", "bogus": 1, "other": 2}, id="several"),
    ],
)
def test_unknown_override_is_type_error(overrides: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match="unknown setting"):
        Settings.from_env({}, **overrides)


def test_override_returns_a_new_frozen_copy() -> None:
    base = Settings.from_env({"SOAJS_ENV": "dev"})
    changed = base.override(env="stg")
    assert (base.env, changed.env) == ("dev", "stg")
    assert base.override() is base
    assert base.override(env=None) is base
    with pytest.raises(AttributeError):
        base.env = "prod"  # type: ignore[misc]


# -- required values -------------------------------------------------------------------

MISSING = [
    pytest.param("require_registry_api", {"SOAJS_ENV": "dev"}, "SOAJS_REGISTRY_API", id="api"),
    pytest.param(
        "require_registry_api", {"SOAJS_REGISTRY_API": "   "}, "SOAJS_REGISTRY_API", id="api-blank"
    ),
    pytest.param("require_env", {"SOAJS_REGISTRY_API": "h:1"}, "SOAJS_ENV", id="env"),
    pytest.param("require_env", {"SOAJS_ENV": ""}, "SOAJS_ENV", id="env-empty"),
]


@pytest.mark.parametrize(("method", "environ", "var"), MISSING)
def test_missing_required_value(method: str, environ: dict[str, str], var: str) -> None:
    settings = Settings.from_env(environ)
    with pytest.raises(ConfigurationError) as exc:
        getattr(settings, method)()
    assert str(exc.value).startswith(f"{var} is required: ")


def test_registry_url_needs_registry_api() -> None:
    with pytest.raises(ConfigurationError, match=r"^SOAJS_REGISTRY_API is required"):
        _ = Settings.from_env({}).registry_url


def test_required_values_present() -> None:
    settings = Settings.from_env({"SOAJS_REGISTRY_API": "gw:5000", "SOAJS_ENV": "Dev"})
    assert settings.require_registry_api() == ("gw", 5000)
    assert settings.require_env() == "dev"


def test_configuration_error_is_a_value_error() -> None:
    assert issubclass(ConfigurationError, ValueError)
    assert issubclass(ConfigurationError, SoajsError)
    with pytest.raises(ValueError, match="SOAJS_REGISTRY_API"):
        Settings.from_env({"SOAJS_REGISTRY_API": "nope"})


def test_describe_lists_every_setting() -> None:
    described = Settings.from_env({"SOAJS_ENV": "dev"}).describe()
    assert set(described) == set(Settings.variables())
    assert described["env"] == "dev"
