"""The context's secrets (iKey, eKey, key.config values) are masked like the registry's."""

from __future__ import annotations

import json
import logging
import pickle

import pytest

from soajs.context import parse_inject_header
from soajs.models import ContextData, SecretText
from soajs.models._base import MASK
from tests.conftest import FIXTURES

RAW = (FIXTURES / "soajsinjectobj_raw.txt").read_bytes().strip()
DECODED = json.loads((FIXTURES / "soajsinjectobj_decoded.json").read_text())
I_KEY, E_KEY = DECODED["key"]["iKey"], DECODED["key"]["eKey"]
CONFIG_VALUES = ["me@localhost", "hello from key config"]


def context() -> ContextData:
    ctx = parse_inject_header([RAW], 65536).context
    assert ctx is not None
    return ctx


def test_keys_and_key_config_never_show_in_repr_str_dumps_or_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ctx = context()
    caplog.set_level(logging.INFO)
    logging.getLogger("soajs.test").info("%s %r %r", ctx, ctx, ctx.tenant.key.i_key)
    shown = [
        repr(ctx),
        str(ctx),
        repr(ctx.tenant),
        repr(ctx.tenant.key),
        repr(ctx.tenant.key.e_key),
        ctx.model_dump_json(),
        str(ctx.model_dump()),
        str(ctx.model_dump(mode="json")),
        ctx.tenant.model_dump_json(),
        caplog.text,
    ]
    for text in shown:
        for secret in (I_KEY, E_KEY, *CONFIG_VALUES):
            assert secret not in text, text[:200]
    dumped = ctx.model_dump()
    assert dumped["tenant"]["key"] == {"iKey": MASK, "eKey": MASK}
    # the structure of key.config stays visible, its values do not
    assert dumped["services_config"] == {"mail": {"from": MASK},
                                         "hello": {"greeting": MASK, "limit": MASK}}  # fmt: skip


def test_secrets_are_readable_on_purpose() -> None:
    ctx = context()
    key = ctx.tenant.key
    assert isinstance(key.i_key, SecretText)
    assert key.i_key.get_secret_value() == I_KEY
    assert key.e_key == E_KEY  # still a str for the code that sends it (the connector)
    assert key.eKey == E_KEY
    assert ctx.services_config["mail"]["from"] == "me@localhost"
    revealed = ctx.model_dump_json(context={"reveal_secrets": True})
    for secret in (I_KEY, E_KEY, *CONFIG_VALUES):
        assert secret in revealed
    assert pickle.loads(pickle.dumps(key.i_key)) == I_KEY


def test_a_context_built_by_hand_masks_too() -> None:
    ctx = ContextData.model_validate(
        {"tenant": {"id": "t", "code": "T", "key": {"iKey": "ik-secret", "eKey": 12345}},
         "services_config": {"svc": {"token": "tok-secret"}}}
    )  # fmt: skip
    assert ctx.tenant.key.e_key == "12345"
    for text in (repr(ctx), ctx.model_dump_json()):
        assert "ik-secret" not in text
        assert "12345" not in text
        assert "tok-secret" not in text
