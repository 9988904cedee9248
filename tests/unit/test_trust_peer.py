"""Reading forwarding headers: what a rewritten peer looks like, and the hop chain."""

from __future__ import annotations

import pytest

from soajs.context.trust import forwarded_hosts, hop_chain, peer_was_rewritten


def test_forwarded_hosts_of_every_form() -> None:
    found = list(
        forwarded_hosts(
            ["10.0.0.5, 10.0.0.6:8080", "[2001:db8::1]:4711", "2001:db8::2", "::ffff:10.0.0.7",
             "10.0.0.8:+80", "[10.0.0.9]:8_0"],
            ['for=192.0.2.60;proto=http, For="[2001:DB8::3]:99"', "by=10.9.9.9"],
        )
    )  # fmt: skip
    assert found == [
        "10.0.0.5", "10.0.0.6", "2001:db8::1", "2001:db8::2", "::ffff:10.0.0.7",
        "10.0.0.8", "10.0.0.9", "192.0.2.60", "2001:db8::3",
    ]  # fmt: skip


def test_every_entry_is_read() -> None:
    many = ",".join(f"10.0.{i // 256}.{i % 256}" for i in range(10000))
    assert len(list(forwarded_hosts([many]))) == 10000
    assert peer_was_rewritten("10.0.39.15", 0, [many])
    assert peer_was_rewritten("10.0.39.15", 43210, [many])


@pytest.mark.parametrize(
    ("host", "port", "xff", "rewritten"),
    [
        ("10.0.0.5", 0, "10.0.0.5", True),  # uvicorn's rewrite
        ("10.0.0.5", 1234, "10.0.0.5:1234", True),  # with the port the header named
        # a real TCP peer the client also named: cannot be told from a rewrite that
        # took the port from elsewhere (Daphne's X-Forwarded-Port): refused
        ("10.0.0.5", 51234, "10.0.0.5", True),
        ("10.0.0.5", 80, "10.0.0.5:+80", True),
        ("10.0.0.5", -1, "10.0.0.5:-1", True),
        ("10.0.0.5", 7, "[::ffff:10.0.0.5]:+7", True),
        ("::ffff:10.0.0.5", 7, "[::FFFF:a00:5]:+7", True),
        ("10.0.0.5", 7, "0:0:0:0:0:ffff:10.0.0.5", True),
        ("10.0.0.5", 7, "[0:0:0:0:0:FFFF:0a00:0005]:7", True),
        ("2001:db8::1", 7, "2001:db8:0:0:0:0:0:1", True),
        ("2001:db8::1", 7, "2001:DB8:0::1:7", True),  # unbracketed, with a port
        ("10.0.0.5", 51234, "10.0.0.50, 110.0.0.5, 10.0.0.5.1", False),
        ("127.0.0.1", 51234, "203.0.113.7", False),  # a gateway passing a client's XFF
        ("127.0.0.1", 0, "203.0.113.7", True),  # no TCP peer has port 0
        ("127.0.0.1", 70000, "203.0.113.7", True),
        ("10.0.0.5", None, "1.2.3.4, 10.0.0.5", True),  # WSGI: no port to tell
        ("127.0.0.1", None, "10.0.0.5", False),
        ("::ffff:10.0.0.5", 0, "10.0.0.5", True),
        (None, 0, "10.0.0.5", False),
    ],
)
def test_peer_was_rewritten(host: str | None, port: int | None, xff: str, rewritten: bool) -> None:
    assert peer_was_rewritten(host, port, [xff]) is rewritten


def test_hop_chain() -> None:
    assert hop_chain("127.0.0.1", ["1.1.1.1, 10.0.0.5"], 0) == ("127.0.0.1", ())
    assert hop_chain("127.0.0.1", ["1.1.1.1, 10.0.0.5"], 1) == ("10.0.0.5", ("127.0.0.1",))
    assert hop_chain("127.0.0.1", ["1.1.1.1", "10.0.0.5, 10.0.0.9"], 2) == (
        "10.0.0.5",
        ("127.0.0.1", "10.0.0.9"),
    )
    assert hop_chain("127.0.0.1", [], 1) == (None, ())
    assert hop_chain(None, ["10.0.0.5"], 1) == (None, ())
    assert hop_chain("127.0.0.1", ["10.0.0.5"], 2) == (None, ())


def test_a_huge_forwarded_for_costs_only_its_last_entries() -> None:
    huge = ", ".join(["203.0.113.7"] * 20000) + ", 10.0.0.5"
    assert hop_chain("127.0.0.1", [huge], 1) == ("10.0.0.5", ("127.0.0.1",))
    assert hop_chain("127.0.0.1", [huge], 2) == ("203.0.113.7", ("127.0.0.1", "10.0.0.5"))
