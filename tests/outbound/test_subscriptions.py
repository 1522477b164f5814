"""The rules of a subscription's fields."""

from __future__ import annotations

import pytest

from calltrail.kernel.errors import InvalidRequest
from calltrail.outbound.subscriptions import Changes, NewSubscription, parse_changes, parse_new


def test_a_subscription_needs_a_url_and_defaults_to_every_event() -> None:
    assert parse_new({"url": "https://x.example/h"}) == NewSubscription("https://x.example/h", ("*",), "")
    new = parse_new({"url": "https://x.example/h", "events": ["call.ended", "call.missed"], "description": "d"})
    assert new.events == ("call.ended", "call.missed") and new.description == "d"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "url"),
        ({"url": "ftp://x"}, "url"),
        ({"url": "https://x", "events": []}, "events"),
        ({"url": "https://x", "events": ["call.exploded"]}, "events"),
        ({"url": "https://x", "events": ["call.ended", "call.ended"]}, "events"),
        ({"url": "https://x", "events": "call.ended"}, "events"),
        ({"url": "https://x", "description": 5}, "description"),
        ({"url": "https://x", "colour": "red"}, "colour"),
        ([], "body"),
    ],
)
def test_bad_fields_are_named(body: object, field: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_new(body)
    assert field in caught.value.details


def test_a_patch_changes_only_what_it_names() -> None:
    assert parse_changes({"enabled": True}) == Changes(enabled=True)
    assert parse_changes({"url": "http://y.example"}) == Changes(url="http://y.example")
    for body, field in (({}, "body"), ({"enabled": "yes"}, "enabled"), ({"secret": "x"}, "secret")):
        with pytest.raises(InvalidRequest) as caught:
            parse_changes(body)
        assert field in caught.value.details
