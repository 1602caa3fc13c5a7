"""Address rules (docs/rules.md#person, docs/rules.md#role-addresses): normalisation, validity, role addresses,
config patterns."""

from __future__ import annotations

import pytest

from connectors.addresses import is_role, matches, normalise, provider_equivalent


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Alice@Example.COM ", "alice@example.com"),
        ("<bob@example.org>", "bob@example.org"),
        ("mailto:carol@example.net", "carol@example.net"),
        ("'dan@example.com'", "dan@example.com"),
        ("<.erin@enron.com>", "erin@enron.com"),
        ("user@bücher.example", "user@xn--bcher-kva.example"),
        ("/O=ENRON/OU=NA/CN=RECIPIENTS/CN=JDOE", None),
        ("undisclosed-recipients:;", None),
        ("no-at-sign", None),
        ("a@b", None),
        ("m..forney@enron.com", "m..forney@enron.com"),
        ("", None),
    ],
)
def test_normalise(raw: str, expected: str | None) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    "address",
    [
        "noreply@x.com", "no-reply@x.com", "donotreply@x.com", "mailer-daemon@x.com", "postmaster@x.com",
        "bounce@x.com", "bounces+abc@x.com", "notification@x.com", "notifications-eu@x.com",
        "newsletter@x.com", "newsletter_weekly@x.com", "noreply.billing@x.com",
    ],
)
def test_role_addresses(address: str) -> None:
    assert is_role(address)


@pytest.mark.parametrize("address", ["alice@x.com", "noreplyalice@x.com", "bouncer@x.com", "news@x.com"])
def test_people_are_not_roles(address: str) -> None:
    assert not is_role(address)


def test_patterns() -> None:
    assert matches("a@shop.example", "*@shop.example")
    assert matches("a@shop.example", "shop.example")
    assert matches("a@mail.shop.example", "shop.example")
    assert not matches("a@othershop.example", "shop.example")
    assert matches("alice@example.com", "Alice@Example.com")
    assert not matches("alice@example.com", "bob@example.com")


def test_provider_equivalence() -> None:
    assert provider_equivalent("a.b+news@googlemail.com") == "ab@gmail.com"
    assert provider_equivalent("a.b@example.com") == "a.b@example.com"
