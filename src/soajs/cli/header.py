"""``soajs header decode|encode|validate``: the ``soajsinjectobj`` header, by the library's core.

``decode`` and ``validate`` run the same parser as the middleware
(``soajs.context.parse_inject_header``): what they accept or refuse, and
the reason, is what a service would see. Secrets (``iKey``, ``eKey``, the
key's config values) are masked in what is printed.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from soajs.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    add_common,
    emit,
    fail,
    read_value,
)
from soajs.context import parse_inject_header
from soajs.context.parser import ParseResult
from soajs.settings import Settings
from soajs.testing.headers import (
    encode_inject_object,
    make_inject_object,
    make_interconnect,
    make_urac,
)

__all__ = ["add_parser"]


def add_parser(sub: Any) -> None:
    header = sub.add_parser("header", help="decode, encode or validate a soajsinjectobj header")
    add_common(header, json_flag=False)
    actions = header.add_subparsers(dest="action", required=True, metavar="ACTION")

    for name, helptext in (
        ("decode", "print the context a service would get from a header, or why it is refused"),
        ("validate", "exit 0 when a service would accept the header, 1 when it would refuse it"),
    ):
        p = actions.add_parser(name, help=helptext, description=helptext)
        add_common(p)
        p.add_argument("value", nargs="?", help="the header value; '-' or nothing: read stdin")
        p.add_argument(
            "--max-size",
            type=int,
            default=None,
            help="size cap in bytes (default SOAJS_MAX_INJECT_HEADER_SIZE, 65536)",
        )
        p.set_defaults(func=_decode if name == "decode" else _validate)

    enc = actions.add_parser(
        "encode",
        help="build a header value, as the gateway does, from flags or a JSON object",
        description="Build a soajsinjectobj value as gateway 4.3.4 does. Flags fill the "
        "parts of a realistic default header; --from-json '{...}' gives the whole object.",
    )
    add_common(enc, json_flag=False)
    enc.add_argument(
        "--from-json",
        "--json",  # the former name, kept: `soajs --json header encode` is the output flag
        dest="json_object",
        metavar="OBJECT",
        help="the whole inject object as JSON ('-': stdin); refused with the flags below",
    )
    enc.set_defaults(json=False)  # set by the global --json: print {"header": ...}
    enc.add_argument("--tenant-id")
    enc.add_argument("--tenant-code")
    enc.add_argument("--tenant-name")
    enc.add_argument("--tenant-type")
    enc.add_argument("--ikey", help="the key's internal key")
    enc.add_argument("--ekey", help="the key's external key")
    enc.add_argument("--product")
    enc.add_argument("--package")
    enc.add_argument("--app-id")
    enc.add_argument("--services-config", metavar="JSON", help="key.config as a JSON object")
    enc.add_argument(
        "--no-provision-acl", action="store_true", help="no ACLs (package {}), as for a "
        "service registered without provision_ACL"
    )  # fmt: skip
    enc.add_argument("--user", metavar="USERNAME", help="a logged-in user (urac)")
    enc.add_argument("--user-id")
    enc.add_argument("--first-name")
    enc.add_argument("--last-name")
    enc.add_argument("--email")
    enc.add_argument("--gateway", metavar="HOST:PORT", help="awareness host:port")
    enc.add_argument(
        "--interconnect",
        action="append",
        default=[],
        metavar="NAME:VERSION@HOST:PORT",
        help="an awareness.interConnect entry (repeatable)",
    )
    enc.add_argument("--device")
    enc.add_argument("--percent-encoded", action="store_true", help="percent-encode the value")
    enc.add_argument(
        "--no-check", action="store_true", help="print it even if a service would refuse it"
    )
    enc.set_defaults(func=_encode)


def _max_size(args: argparse.Namespace) -> int:
    if args.max_size is not None:
        if args.max_size < 1:
            fail(f"--max-size must be a positive number of bytes, got {args.max_size}", EXIT_USAGE)
        return int(args.max_size)
    return Settings.from_env().max_inject_header_size


def _parse(args: argparse.Namespace) -> tuple[ParseResult, int]:
    raw = read_value(args.value, "header")
    return parse_inject_header([raw], _max_size(args)), len(raw)


def _refusal(result: ParseResult) -> dict[str, Any]:
    return {"valid": False, "reason": result.reason.value, "detail": result.detail}


def _decode(args: argparse.Namespace) -> int:
    result, size = _parse(args)
    if result.context is None:
        emit(args, _refusal(result), _refusal_text(result))
        return EXIT_FAILED
    context = result.context.model_dump(mode="json", by_alias=True)
    data = {"valid": True, "reason": "ok", "bytes": size, "context": context}
    emit(
        args, data, _context_text(result, size) + json.dumps(context, indent=2, ensure_ascii=False)
    )
    return EXIT_OK


def _validate(args: argparse.Namespace) -> int:
    result, size = _parse(args)
    if result.context is None:
        emit(args, _refusal(result), _refusal_text(result))
        return EXIT_FAILED
    tenant = result.context.tenant
    emit(args, {"valid": True, "reason": "ok", "bytes": size}, f"valid: tenant {tenant.code}")
    return EXIT_OK


def _refusal_text(result: ParseResult) -> str:
    detail = f" ({result.detail})" if result.detail else ""
    return f"refused: {result.reason.value}{detail}"


def _context_text(result: ParseResult, size: int) -> str:
    ctx = result.context
    assert ctx is not None
    tenant, app = ctx.tenant, ctx.tenant.application
    user = ctx.urac.username if ctx.urac else "(none)"
    aware = f"{ctx.awareness.host}:{ctx.awareness.port}" if ctx.awareness else "(none)"
    mesh = len(ctx.awareness.inter_connect or ()) if ctx.awareness else 0
    return (
        f"valid ({size} bytes): tenant {tenant.code} ({tenant.id}), application "
        f"{app.product}/{app.package}, user {user}, gateway {aware}, "
        f"{mesh} interConnect entr{'y' if mesh == 1 else 'ies'}\n"
    )


def _host_port(value: str, flag: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        fail(f"{flag} must be HOST:PORT, got {value!r}", EXIT_USAGE)
    return host, int(port)


def _interconnect(value: str) -> dict[str, Any]:
    target, sep, where = value.partition("@")
    name, _, version = target.partition(":")
    if not sep or not name:
        fail(f"--interconnect must be NAME:VERSION@HOST:PORT, got {value!r}", EXIT_USAGE)
    host, port = _host_port(where, "--interconnect")
    return make_interconnect(name, version or "1", host=host, port=port)


def _json_object(value: str, flag: str) -> Any:
    text = read_value(value, flag).decode("utf-8", "replace") if value == "-" else value
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        fail(f"{flag} is not JSON: {exc}", EXIT_USAGE)


def _from_flags(args: argparse.Namespace) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for flag, key in (
        ("tenant_id", "tenant_id"),
        ("tenant_code", "tenant_code"),
        ("tenant_name", "tenant_name"),
        ("tenant_type", "tenant_type"),
        ("ikey", "ikey"),
        ("ekey", "ekey"),
        ("product", "product"),
        ("package", "package"),
        ("app_id", "app_id"),
        ("device", "device"),
    ):
        if getattr(args, flag) is not None:
            fields[key] = getattr(args, flag)
    if args.services_config is not None:
        config = _json_object(args.services_config, "--services-config")
        if not isinstance(config, dict):
            fail("--services-config must be a JSON object", EXIT_USAGE)
        fields["services_config"] = config
    if args.no_provision_acl:
        fields["provision_acl"] = False
    if args.user is not None:
        urac: dict[str, Any] = {"username": args.user}
        for flag in ("first_name", "last_name", "email"):
            if getattr(args, flag) is not None:
                urac[flag] = getattr(args, flag)
        if args.user_id is not None:
            urac["id"] = args.user_id
        urac.setdefault("tenant_id", fields.get("tenant_id", make_urac()["tenant"]["id"]))
        urac.setdefault("tenant_code", fields.get("tenant_code", "TST1"))
        fields["urac"] = make_urac(**urac)
    if args.gateway is not None:
        fields["awareness_host"], fields["awareness_port"] = _host_port(args.gateway, "--gateway")
    if args.interconnect:
        fields["interconnect"] = [_interconnect(v) for v in args.interconnect]
    return make_inject_object(**fields)


def _encode(args: argparse.Namespace) -> int:
    if args.json_object is not None:
        flags = [f"--{k.replace('_', '-')}" for k in _FLAGS if getattr(args, k, None)]
        if flags:
            fail(f"--from-json gives the whole object: drop {', '.join(flags)} (or --from-json)",
                 EXIT_USAGE)  # fmt: skip
        obj = _json_object(args.json_object, "--from-json")
        if not isinstance(obj, dict):
            fail(f"--from-json must be a JSON object, got {type(obj).__name__}", EXIT_USAGE)
    else:
        obj = _from_flags(args)
    try:
        value = encode_inject_object(obj, percent_encoded=args.percent_encoded)
    except ValueError as exc:  # NaN / Infinity: not JSON the gateway could send
        fail(f"cannot encode: {exc}", EXIT_USAGE)
    if not args.no_check:
        result = parse_inject_header(
            [value.encode("utf-8")], Settings.from_env().max_inject_header_size
        )
        if result.context is None:
            fail(
                f"a service would refuse this header: {_refusal_text(result)[9:]} "
                "(--no-check prints it anyway)"
            )
    if args.json:
        emit(args, {"header": value})
    else:
        print(value)  # noqa: T201 - the command's output
    return EXIT_OK


# the flags --from-json replaces (refused together with it)
_FLAGS = (
    "tenant_id", "tenant_code", "tenant_name", "tenant_type", "ikey", "ekey", "product",
    "package", "app_id", "services_config", "no_provision_acl", "user", "user_id",
    "first_name", "last_name", "email", "gateway", "interconnect", "device",
)  # fmt: skip
