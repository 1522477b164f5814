"""Standard Webhooks signatures, checked with the reference library from PyPI."""

from __future__ import annotations

import base64
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from calltrail.outbound.signing import SECRET_PREFIX, headers, new_secret, secret_key, signature


def test_a_secret_is_whsec_and_32_random_bytes() -> None:
    secret = new_secret()
    assert secret.startswith(SECRET_PREFIX)
    assert len(base64.b64decode(secret.removeprefix(SECRET_PREFIX))) == 32
    assert new_secret() != secret


def test_the_reference_library_verifies_what_is_signed() -> None:
    secret = new_secret()
    body = b'{"type":"call.ended","timestamp":"2026-01-01T00:00:00Z","data":{"x":"\xc3\xa9"}}'
    sent = headers(secret_key(secret), "msg_1", int(time.time()), body)
    assert sent["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(body, sent)["type"] == "call.ended"
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, sent)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + b" ", sent)


def test_the_signature_covers_id_timestamp_and_body() -> None:
    key = secret_key(new_secret())
    base = signature(key, "msg_1", 100, b"{}")
    assert base != signature(key, "msg_2", 100, b"{}")
    assert base != signature(key, "msg_1", 101, b"{}")
    assert base == signature(key, "msg_1", 100, b"{}")
