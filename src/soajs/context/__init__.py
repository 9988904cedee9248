"""The request context: one parsing core, trust, cache and the current-context variable.

``parser.py`` is framework-free (bytes in, ``ContextData | None`` and a
reason out); the middlewares are thin shells over :class:`ContextResolver`.
"""

from soajs.context.current import current_context, reset_context, set_context
from soajs.context.parser import HEADER, MAX_DEPTH, ParseResult, parse_inject_header
from soajs.context.reasons import Reason
from soajs.context.resolver import ContextResolver
from soajs.context.trust import TrustedGateways

__all__ = [
    "HEADER",
    "MAX_DEPTH",
    "ContextResolver",
    "ParseResult",
    "Reason",
    "TrustedGateways",
    "current_context",
    "parse_inject_header",
    "reset_context",
    "set_context",
]
