"""What every subcommand shares: output (text or ``--json``), errors, reading inputs.

Errors are one line on stderr (``soajs: error: ...``) and an exit code,
never a traceback: ``CliError`` carries the code.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, NoReturn

from soajs import __version__

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "CliError",
    "add_common",
    "emit",
    "fail",
    "read_json_file",
    "read_value",
    "revealing",
    "seconds",
]

#: Success.
EXIT_OK = 0
#: What was checked is bad: a refused header, an invalid config, a problem
#: found by ``doctor``, a failed call, registries that differ.
EXIT_FAILED = 1
#: The command line or its input cannot be used (argparse's own code).
EXIT_USAGE = 2

#: The largest input read from a file or stdin (a registry is far smaller).
MAX_INPUT = 64 * 1024 * 1024


class CliError(Exception):
    """One line for the user, and the exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


#: The longest --timeout / --deadline accepted (one day).
MAX_SECONDS = 86400.0


def seconds(value: str) -> float:
    """An argparse type: a finite number of seconds in (0, ``MAX_SECONDS``]
    (a bad value is a usage error, exit 2, not a failure of what is checked)."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if not (0 < number <= MAX_SECONDS):  # also refuses nan and inf
        raise argparse.ArgumentTypeError(
            f"must be a number of seconds in (0, {MAX_SECONDS:g}], got {value!r}"
        )
    return number


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    raise CliError(message, code)


def add_common(parser: argparse.ArgumentParser, *, json_flag: bool = True) -> None:
    """``--version`` on every (sub)command; ``--json`` and ``--reveal-secrets`` where
    output is printed."""
    parser.add_argument("--version", action="version", version=f"soajs {__version__}")
    if json_flag:
        parser.add_argument("--json", action="store_true", help="print JSON instead of text")
        parser.add_argument(
            "--reveal-secrets",
            action="store_true",
            help="print passwords, keys, tokens and URI credentials in clear (masked by default)",
        )


def revealing(args: argparse.Namespace) -> bool:
    """Whether ``--reveal-secrets`` was given (before or after the subcommand)."""
    return getattr(args, "reveal_secrets", False) is True


def emit(args: argparse.Namespace, data: Any, text: str | None = None) -> None:
    """Print ``data`` as JSON with ``--json``, else ``text`` (or ``data`` as indented JSON).

    Both go through ``soajs.cli.redact.redact`` unless ``--reveal-secrets``.
    """
    from soajs.cli.redact import redact, redact_text

    if not revealing(args):
        data = redact(data)
        text = None if text is None else redact_text(text)
    if getattr(args, "json", False) is True or text is None:
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    else:
        sys.stdout.write(text.rstrip("\n") + "\n")


def read_value(value: str | None, what: str) -> bytes:
    """``value`` as UTF-8 bytes, or stdin's bytes when it is ``-`` or absent (piped)."""
    if value is not None and value != "-":
        return value.encode("utf-8", "surrogateescape")
    if value is None and sys.stdin.isatty():
        fail(f"no {what} given: pass it as an argument, or '-' to read stdin", EXIT_USAGE)
    data = sys.stdin.buffer.read(MAX_INPUT + 1)
    if len(data) > MAX_INPUT:
        fail(f"{what} on stdin is larger than {MAX_INPUT} bytes", EXIT_USAGE)
    if not data.strip():
        fail(f"no {what} given: stdin was empty", EXIT_USAGE)
    return data.strip()


def read_json_file(path: str, what: str) -> Any:
    """The JSON content of ``path`` (``-``: stdin), or a one-line CliError.

    Bounded as ``soajs.registry.offline.read_json_file`` bounds a registry
    file: at most ``MAX_INPUT`` bytes (plus one) read, regular files only
    (a FIFO or a device is refused, never waited on), 128 levels of nesting.
    """
    from soajs.errors import ConfigurationError
    from soajs.registry.offline import read_json_file as read_bounded

    if path != "-":
        try:
            return read_bounded(path, what, max_bytes=MAX_INPUT)
        except ConfigurationError as exc:
            fail(str(exc), EXIT_USAGE)
    raw = sys.stdin.buffer.read(MAX_INPUT + 1)
    if len(raw) > MAX_INPUT:
        fail(f"{what} on stdin is larger than {MAX_INPUT} bytes", EXIT_USAGE)
    try:
        data = json.loads(raw)
    except RecursionError:
        fail(f"{what} on stdin is nested too deeply", EXIT_USAGE)
    except ValueError as exc:
        fail(f"{what} on stdin is not JSON: {exc}", EXIT_USAGE)
    from soajs.context.decode import _too_deep
    from soajs.registry.client import MAX_DEPTH

    if raw.count(b"{") + raw.count(b"[") > MAX_DEPTH and _too_deep(raw, MAX_DEPTH):
        fail(f"{what} on stdin is nested deeper than {MAX_DEPTH} levels", EXIT_USAGE)
    return data
