"""``soajs doctor``: what this service would do here, and what is wrong, each with the fix.

Checks, in order: every ``SOAJS_*`` variable (each parsed on its own, so
all bad ones are reported at once); the service configuration (``--config``);
the control plane (``GET /heartbeat``, then ``GET /getRegistry`` for
``--service``); then says what the service would do: deployment mode,
advertised IP, service and maintenance ports, trusted gateways, and the
gateway the registry names. Exit 1 when anything is an error; warnings
alone exit 0.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from soajs.cli._common import EXIT_FAILED, EXIT_OK, add_common, emit, read_json_file, seconds
from soajs.errors import ConfigurationError, SoajsError
from soajs.settings import Settings, boolean_variables

__all__ = ["add_parser"]


def add_parser(sub: Any) -> None:
    doc = sub.add_parser(
        "doctor",
        help="check the environment, the control plane and the registry; say what is wrong",
    )
    add_common(doc)
    doc.add_argument("--service", help="service name (default: the config's name)")
    doc.add_argument("--config", help="the service's Config JSON file")
    doc.add_argument("--timeout", type=seconds, default=3.0, help="seconds per control-plane call")
    doc.set_defaults(func=_doctor)


class _Report:
    def __init__(self) -> None:
        self.checks: list[dict[str, str]] = []
        self.facts: dict[str, Any] = {}

    def add(self, level: str, what: str, message: str, fix: str = "") -> None:
        self.checks.append({"level": level, "check": what, "message": message, "fix": fix})

    @property
    def failed(self) -> bool:
        return any(c["level"] == "error" for c in self.checks)


def _settings(report: _Report) -> Settings | None:
    good: dict[str, str] = {}
    for var in Settings.variables().values():
        value = os.environ.get(var)
        if value is None or not value.strip():
            continue
        try:
            Settings.from_env({var: value})  # the library's own parser
        except ConfigurationError as exc:
            fix = (
                f"write {var}=true or {var}=false"
                if var in boolean_variables()
                else f"fix or unset {var}"
            )
            report.add("error", var, str(exc), fix)
            continue
        good[var] = value
        report.add("ok", var, f"{var}={value}")
    settings = Settings.from_env(good)
    for var, attr in (("SOAJS_REGISTRY_API", "registry_api"), ("SOAJS_ENV", "env")):
        if getattr(settings, attr) is None and not any(c["check"] == var for c in report.checks):
            report.add(
                "error",
                var,
                f"{var} is not set",
                "export SOAJS_REGISTRY_API=host:port of the control plane"
                if attr == "registry_api"
                else "export SOAJS_ENV=<environment code, e.g. dev>",
            )
    if settings.trusted_gateways is None or "*" in (settings.trusted_gateways or ()):
        report.add(
            "warning",
            "SOAJS_TRUSTED_GATEWAYS",
            "the inject header is believed from any peer: anyone reaching the service can "
            "forge a tenant",
            "export SOAJS_TRUSTED_GATEWAYS=<the gateways' IPs or CIDRs>",
        )
    return settings


def _config(args: argparse.Namespace, report: _Report) -> Any:
    from soajs.cli.config import problems

    if args.config is None:
        return None
    config, found = problems(read_json_file(args.config, "configuration file"))
    for p in found:
        report.add("error", f"config {p['path']}", p["message"], f"edit {args.config}")
    if config is not None:
        report.add("ok", "config", f"{config.name} v{config.version} on port {config.port}")
    return config


def _doctor(args: argparse.Namespace) -> int:
    report = _Report()
    settings = _settings(report)
    config = _config(args, report)
    service = args.service or (config.name if config is not None else None)
    registry = None
    if settings is not None and settings.registry_api and settings.env:
        registry = _control_plane(settings, service, args.timeout, report)
    if settings is not None and settings.deploy_manual and config is None:
        report.add(
            "error",
            "SOAJS_DEPLOY_MANUAL",
            "manual deployment needs the service's Config to register",
            "pass --config FILE here, and config=Config(...) to RegistryManager",
        )
    _facts(report, settings, config, registry)
    text = []
    for c in report.checks:
        text.append(f"[{c['level']}] {c['check']}: {c['message']}")
        if c["fix"]:
            text.append(f"    fix: {c['fix']}")
    text += [f"{k}: {v}" for k, v in report.facts.items()]
    emit(args, {"ok": not report.failed, "checks": report.checks, "service": report.facts},
         "\n".join(text))  # fmt: skip
    return EXIT_FAILED if report.failed else EXIT_OK


def _control_plane(settings: Settings, service: str | None, timeout: float, report: _Report) -> Any:
    from soajs.registry.client import RegistryClient

    api = settings.registry_url
    with RegistryClient(api, timeout=timeout) as client:
        try:
            client.heartbeat()
        except SoajsError as exc:
            report.add(
                "error",
                "control plane",
                f"{api} does not answer /heartbeat: {exc}",
                "start the gateway (or `soajs control-plane --registry FILE`), or fix "
                "SOAJS_REGISTRY_API (the gateway's maintenance port, usually 5000)",
            )
            return None
        report.add("ok", "control plane", f"{api} answers /heartbeat")
        if service is None:
            report.add("warning", "registry", "not loaded: no service name", "pass --service NAME")
            return None
        try:
            registry = client.get_registry(str(settings.env), service)
        except SoajsError as exc:
            report.add("error", "registry", f"cannot load it: {exc}", "see the message above")
            return None
    report.add(
        "ok",
        "registry",
        f"loaded for {service} in {settings.env}: {len(registry.core_dbs)} database(s), "
        f"{len(registry.services)} service(s)",
    )
    if registry.awareness is None or not registry.awareness.host:
        report.add(
            "warning",
            "gateway",
            "the registry does not say where the gateway is yet (awareness.host is null)",
            "gateway 4.3.4 says so for one health-check interval after it starts: retry",
        )
    return registry


def _facts(report: _Report, settings: Settings | None, config: Any, registry: Any) -> None:
    facts = report.facts
    if settings is not None:
        from soajs.registry.deployment import plan

        deployment = plan(settings, config)
        facts["mode"] = deployment.describe()
        facts["advertised_ip"] = deployment.ip
        facts["trusted_gateways"] = list(settings.trusted_gateways or ["(any)"])
    if config is not None:
        inc = registry.maintenance_inc if registry is not None else None
        facts["port"] = config.port
        facts["maintenance_port"] = config.maintenance_port(inc)
        facts["ext_key_required"] = config.ext_key_required
    if registry is not None and registry.awareness is not None:
        facts["gateway"] = f"{registry.awareness.host}:{registry.awareness.port}"
