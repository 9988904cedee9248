"""Context secrets stay masked however they are printed, and readable on purpose.

Red-team finding 6 (issue 12): iKey and eKey are :class:`SecretText` (a ``str``
subclass, so the connector can send them), but ``str()``, f-strings and
``%s`` logging printed them, where the registry's secrets print
``**********``; ``dict(ctx)["services_config"]`` and ``repr(ctx.services_config)``
showed the key's config values; unknown urac fields named like secrets
(``password``, ``accessToken`` in ``socialLogin``) showed in ``repr``.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import pickle

import pytest

from soajs.context import parse_inject_header
from soajs.models import ContextData, SecretText
from soajs.models._base import MASK
from soajs.models.registry import KeyConfig

I_KEY, E_KEY = "IKEYSECRET-1234", "EKEYSECRET-5678"
CONFIG_SECRET = "CFGSECRET-9012"
HEADER = {
    "tenant": {"id": "t", "code": "c"},
    "key": {"iKey": I_KEY, "eKey": E_KEY,
            "config": {"mail": {"apiKey": CONFIG_SECRET, "limits": [1, {"pw": CONFIG_SECRET}]}}},
    "urac": {"_id": "u1", "username": "owner", "password": "PWHASH-3456",
             "accessToken": "UTOKEN-7890",
             "socialLogin": {"facebook": {"id": "fb1", "accessToken": "FBTOKEN-1111"}},
             "config": {"keys": {"refresh_token": "RTOKEN-2222"}}},
}  # fmt: skip
URAC_SECRETS = ("PWHASH-3456", "UTOKEN-7890", "FBTOKEN-1111", "RTOKEN-2222")
SECRETS = (I_KEY, E_KEY, CONFIG_SECRET, *URAC_SECRETS)


def context() -> ContextData:
    raw = json.dumps(HEADER).encode()
    ctx = parse_inject_header([raw], 65536).context
    assert ctx is not None
    return ctx


def printed(value: object) -> list[str]:
    """Every way code usually prints a value."""
    stream = io.StringIO()
    log = logging.getLogger("soajs.test.secrets")
    handler = logging.StreamHandler(stream)
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        log.info("%s | %r", value, value)
        log.info("%s", [value])
        log.info("%(v)s", {"v": value})
    finally:
        log.removeHandler(handler)
    aligned = f"{value:>40}" if isinstance(value, str) else ""
    percent = "%s %r" % (value, value)  # noqa: UP031 - what logging does
    return [str(value), repr(value), f"{value}", f"{value!s}", f"{value!r}", aligned,
            format(value), "{}".format(value), percent,  # noqa: UP032
            str([value]), str({"k": value}), stream.getvalue()]  # fmt: skip


@pytest.mark.parametrize("part", ["i_key", "e_key"])
def test_a_key_is_masked_however_it_is_printed(part: str) -> None:
    secret = getattr(context().tenant.key, part)
    assert isinstance(secret, SecretText)
    for text in printed(secret):
        assert I_KEY not in text and E_KEY not in text, text
        assert MASK in text, text


def test_a_key_is_masked_like_the_registrys_secrets() -> None:
    registry_secret = KeyConfig.model_validate({"algorithm": "aes", "password": "REGPW"}).password
    key = context().tenant.key
    assert str(key.e_key) == MASK and f"{key.e_key}" == MASK
    assert MASK in str(registry_secret) and "REGPW" not in f"{registry_secret}"


def test_a_key_stays_the_real_string_for_code_that_uses_it() -> None:
    key = context().tenant.key
    assert key.e_key == E_KEY and key.e_key.get_secret_value() == E_KEY
    assert type(key.e_key.get_secret_value()) is str
    assert key.i_key is not None and key.i_key.get_secret_value() == I_KEY
    assert key.e_key.encode() == E_KEY.encode()  # what a header value becomes
    assert hash(key.e_key) == hash(E_KEY) and len(key.e_key) == len(E_KEY)
    assert {E_KEY: 1}[key.e_key] == 1
    assert key.e_key.startswith("EKEY") and key.e_key[:4] == "EKEY"
    assert pickle.loads(pickle.dumps(key.e_key)).get_secret_value() == E_KEY
    assert copy.deepcopy(key.e_key).get_secret_value() == E_KEY


def test_what_a_str_subclass_cannot_mask_is_what_the_docs_say() -> None:
    """str operations that read the characters themselves, not ``__str__``: documented
    in docs/models.md (use them only to send the key, never to log it)."""
    e_key = context().tenant.key.e_key
    assert e_key is not None
    assert json.dumps(e_key) == json.dumps(E_KEY)
    assert "".join([e_key]) == E_KEY
    assert "k=" + e_key == "k=" + E_KEY


def test_key_config_values_are_masked_in_repr_and_dict_of_the_context() -> None:
    ctx = context()
    shown = [*printed(ctx.services_config), *printed(dict(ctx)["services_config"]),
             *printed(ctx.services_config["mail"]), *printed(dict(ctx)),
             *printed(ctx.service_config("mail")),
             repr(ctx.services_config["mail"]["limits"])]  # fmt: skip
    for text in shown:
        assert CONFIG_SECRET not in text, text
    assert "apiKey" in repr(ctx.services_config)  # the structure stays visible
    # read on purpose: the value itself
    assert ctx.services_config["mail"]["apiKey"] == CONFIG_SECRET
    assert ctx.service_config("mail") == {
        "apiKey": CONFIG_SECRET,
        "limits": (1, {"pw": CONFIG_SECRET}),
    }
    assert dict(ctx.services_config["mail"])["apiKey"] == CONFIG_SECRET
    assert (
        json.loads(ctx.model_dump_json(context={"reveal_secrets": True}))["services_config"][
            "mail"
        ]["apiKey"]
        == CONFIG_SECRET
    )


def test_a_hand_built_contexts_key_config_is_masked_too() -> None:
    ctx = ContextData.model_validate(
        {"tenant": {"id": "t", "code": "c"}, "services_config": {"svc": {"token": CONFIG_SECRET}}}
    )
    for text in (repr(ctx.services_config), str(dict(ctx)), repr(ctx.services_config["svc"])):
        assert CONFIG_SECRET not in text, text
    assert ctx.services_config["svc"]["token"] == CONFIG_SECRET


def test_urac_fields_named_like_secrets_are_masked_in_repr_and_dumps() -> None:
    ctx = context()
    assert ctx.urac is not None
    shown = [*printed(ctx.urac), *printed(ctx), ctx.model_dump_json(), str(ctx.model_dump()),
             ctx.urac.model_dump_json(), repr(ctx.urac.social_login)]  # fmt: skip
    for text in shown:
        for secret in URAC_SECRETS:
            assert secret not in text, text
    assert "owner" in repr(ctx.urac) and "fb1" in ctx.urac.model_dump_json()  # the rest shows
    # read on purpose
    assert ctx.urac.password == "PWHASH-3456"
    assert ctx.urac.social_login is not None
    assert ctx.urac.social_login["facebook"]["accessToken"] == "FBTOKEN-1111"
    revealed = ctx.model_dump_json(context={"reveal_secrets": True})
    for secret in SECRETS:
        assert secret in revealed
