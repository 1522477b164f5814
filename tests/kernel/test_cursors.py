"""Page tokens: round trip, opacity, tamper evidence, and binding to app and query."""

from __future__ import annotations

import base64

import orjson
import pytest

from calltrail.kernel import cursors as page_token
from calltrail.kernel.cursors import Cursor
from calltrail.kernel.errors import InvalidRequest
from calltrail.voice.query import ChannelCallQuery
from calltrail.voice.vocabulary import is_uuid

SECRET = b"s" * 32
CURSOR = Cursor(1709310908269, "71180b3e-b509-44b5-b7b3-22640525e580")
QUERY = ChannelCallQuery(scope="db53c357-92e3-4f3d-babe-159573940a50", statuses=("no-answer",))
BOUND = page_token.binding("app-1", QUERY.fingerprint())


def decode(token: str, secret: bytes = SECRET, bound: str = BOUND) -> Cursor:
    return page_token.decode(token, secret=secret, bound_to=bound, valid_key=is_uuid)


def reason(token: str, secret: bytes = SECRET, bound: str = BOUND) -> str:
    with pytest.raises(InvalidRequest) as caught:
        decode(token, secret, bound)
    return caught.value.details["pageToken"][0]


def test_round_trip_and_url_safety() -> None:
    token = page_token.encode(CURSOR, secret=SECRET, bound_to=BOUND)
    assert decode(token) == CURSOR
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert len(token) < 200


def test_the_payload_carries_the_position_like_birds_own_tokens() -> None:
    payload = page_token.encode(CURSOR, secret=SECRET, bound_to=BOUND).split(".")[0]
    decoded = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert decoded[:3] == [1, CURSOR.position, CURSOR.key]


def test_tampering_with_any_part_is_detected() -> None:
    token = page_token.encode(CURSOR, secret=SECRET, bound_to=BOUND)
    payload, mac = token.split(".")
    moved = base64.urlsafe_b64encode(orjson.dumps([1, 0, CURSOR.key, BOUND])).rstrip(b"=").decode()
    for forged in (
        f"{moved}.{mac}",
        f"{payload}.{mac[:-2]}AA",
        token[:-1],
        token + "x",
        f"{payload}.",
        ".",
        "",
        "WzE3MDkzMTA5MDgyNjksIjcxMTgwYjNlLWI1MDktNDRiNS1iN2IzLTIyNjQwNTI1ZTU4MCJd",
        "a.b.c",
        "é.é",
    ):
        assert reason(forged) == page_token.INVALID, forged


def test_a_token_from_another_secret_is_invalid() -> None:
    token = page_token.encode(CURSOR, secret=b"other", bound_to=BOUND)
    assert reason(token) == page_token.INVALID


def test_a_validly_signed_token_with_a_bad_payload_is_invalid() -> None:
    content: object
    for content in ([2, 1, CURSOR.key, BOUND], [1, "1", CURSOR.key, BOUND], [1, 1, "x", BOUND], [1, 1], {}):
        payload = orjson.dumps(content)
        token = f"{page_token._b64(payload)}.{page_token._b64(page_token._mac(SECRET, payload))}"
        assert reason(token) == page_token.INVALID, content


def test_tokens_are_bound_to_app_scope_and_filters() -> None:
    token = page_token.encode(CURSOR, secret=SECRET, bound_to=BOUND)
    for other in (
        page_token.binding("app-2", QUERY.fingerprint()),
        page_token.binding("app-1", ChannelCallQuery(scope=QUERY.scope).fingerprint()),
        page_token.binding("app-1", ChannelCallQuery(statuses=("no-answer",)).fingerprint()),
        page_token.binding(
            "app-1", ChannelCallQuery(scope=QUERY.scope, statuses=("no-answer",), tags=("vip",)).fingerprint()
        ),
    ):
        assert reason(token, bound=other) == page_token.FOREIGN


def test_binding_is_stable_for_equal_queries() -> None:
    same = ChannelCallQuery(scope=QUERY.scope, statuses=("no-answer",))
    assert page_token.binding("app-1", same.fingerprint()) == BOUND
