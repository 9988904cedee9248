"""The ``soajs`` command line (``soajs ...`` or ``python -m soajs ...``).

``soajs header decode|encode|validate``
    the ``soajsinjectobj`` header, with the library's own parser;
``soajs registry show|get|diff``
    the registry a service would load (control plane or file), masked;
``soajs config validate FILE``
    every problem of a service configuration, with its field path;
``soajs doctor``
    environment, control plane, registry: what the service would do, what is wrong;
``soajs call SERVICE PATH``
    one call through the ServiceConnector (mesh or gateway);
``soajs control-plane --registry FILE``
    serve the local control plane.

``--version`` and ``--help`` work everywhere, ``--json`` prints JSON.
Secrets (passwords, keys, tokens, URI credentials) are masked in everything
printed, errors and log lines included, unless ``--reveal-secrets``. Exit
codes: 0 success, 1 what was checked is bad (or the call failed), 2 the
command line or its input is unusable, 130 interrupted. Errors are one line
on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from soajs.cli import call, config, controlplane, doctor, header, registry
from soajs.cli._common import EXIT_FAILED, EXIT_USAGE, CliError, add_common, revealing
from soajs.cli.redact import redact_text

__all__ = ["build_parser", "main"]

logger = logging.getLogger("soajs.cli")


class _Redacting(logging.Formatter):
    """Log lines through the CLI's redaction (no URI password on stderr)."""

    def __init__(self, fmt: str, clean: Callable[[str], str]) -> None:
        super().__init__(fmt)
        self._clean = clean

    def format(self, record: logging.LogRecord) -> str:
        return self._clean(super().format(record))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="soajs",
        description="soajs-python: tools for a service behind a SOAJS gateway.",
        epilog="Exit codes: 0 ok, 1 check failed, 2 bad usage or input, 130 interrupted.",
    )
    add_common(parser, json_flag=False)
    parser.add_argument(
        "--json",
        dest="json_everywhere",
        action="store_true",
        help="print JSON (also accepted after the subcommand)",
    )
    parser.add_argument(
        "--reveal-secrets",
        dest="reveal_everywhere",
        action="store_true",
        help="print secrets in clear (also accepted after the subcommand)",
    )
    parser.add_argument(
        "--log-level",
        default=None,
        help="logging level on stderr (default WARNING; INFO for control-plane)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (header, registry, config, doctor, call, controlplane):
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    given = list(sys.argv[1:] if argv is None else argv)
    for index, arg in enumerate(given, 1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:  # undecodable bytes arrive as surrogates
            sys.stderr.write(f"soajs: error: argument {index} is not valid UTF-8\n")
            return EXIT_USAGE
    try:
        args = parser.parse_args(given)
    except SystemExit as exc:  # --help, --version, usage errors: argparse printed them
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    if args.json_everywhere and hasattr(args, "json"):
        args.json = True
    if args.reveal_everywhere:
        args.reveal_secrets = True
    clean: Callable[[str], str] = (lambda text: text) if revealing(args) else redact_text
    name = args.log_level or ("INFO" if args.command == "control-plane" else "WARNING")
    level = getattr(logging, str(name).upper(), None)
    if not isinstance(level, int):
        sys.stderr.write(f"soajs: error: unknown --log-level {args.log_level!r}\n")
        return EXIT_USAGE
    handler = logging.StreamHandler()
    handler.setFormatter(_Redacting("%(asctime)s %(levelname)s %(name)s: %(message)s", clean))
    logging.basicConfig(level=level, handlers=[handler])
    try:
        code: Any = args.func(args)
        return int(code)
    except CliError as exc:
        sys.stderr.write(f"soajs: error: {clean(str(exc))}\n")
        return exc.code
    except KeyboardInterrupt:
        sys.stderr.write("soajs: interrupted\n")
        return 130
    except BrokenPipeError:
        return EXIT_FAILED
    except Exception as exc:  # a bug or an unforeseen failure: still one line
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        sys.stderr.write(f"soajs: error: {clean(message)}\n")
        logger.debug("details", exc_info=True)
        return EXIT_FAILED
