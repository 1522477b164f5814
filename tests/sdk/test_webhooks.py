"""The SDK's webhook calls against the real app (both engines), and ``verify_webhook`` against
what Calltrail's signer and the ``standardwebhooks`` reference library produce."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import anyio
import httpx
import pytest
from standardwebhooks.webhooks import Webhook as ReferenceWebhook

from calltrail.outbound.signing import headers as signed_headers
from calltrail.outbound.signing import new_secret, secret_key
from calltrail_sdk import AsyncCalltrailClient, CalltrailClient, NotFoundError, WebhookVerificationError, verify_webhook
from tests.conftest import Tenant
from tests.outbound.support import ended_call
from tests.sdk.conftest import BASE_URL

BODY = b'{"type":"call.ended","timestamp":"2026-01-01T00:00:00Z","data":{"sessionId":"s"}}'


def test_verify_webhook_accepts_what_calltrail_and_the_reference_library_sign() -> None:
    secret = new_secret()
    now = int(time.time())
    ours = signed_headers(secret_key(secret), "msg_1", now, BODY)
    assert verify_webhook(secret, BODY, ours)["data"] == {"sessionId": "s"}
    reference = ReferenceWebhook(secret).sign("msg_2", datetime.fromtimestamp(now, tz=UTC), BODY.decode())
    theirs = {"Webhook-Id": "msg_2", "Webhook-Timestamp": str(now), "Webhook-Signature": f"v0,x {reference}"}
    assert verify_webhook(secret, BODY.decode(), theirs)["type"] == "call.ended"


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"body": BODY + b" "}, "signature"),
        ({"secret": new_secret()}, "signature"),
        ({"webhook-id": "msg_other"}, "signature"),
        ({"webhook-timestamp": str(int(time.time()) - 600)}, "tolerance"),
        ({"webhook-signature": None}, "missing"),
    ],
)
def test_verify_webhook_rejects_anything_changed(change: dict[str, object], why: str) -> None:
    secret = new_secret()
    sent = signed_headers(secret_key(secret), "msg_1", int(time.time()), BODY)
    body = change.pop("body", BODY)
    secret = str(change.pop("secret", secret))
    for name, value in change.items():
        if value is None:
            sent.pop(name)
        else:
            sent[name] = str(value)
    with pytest.raises(WebhookVerificationError, match=why):
        verify_webhook(secret, body, sent)  # type: ignore[arg-type]


def test_subscription_calls(sync_http: httpx.Client, tenant: Tenant) -> None:
    with CalltrailClient(BASE_URL, tenant.key, http_client=sync_http) as client:
        hook = client.create_webhook("https://crm.example/h", events=["call.ended"], description="CRM")
        assert hook.secret is not None and hook.secret.startswith("whsec_") and hook.enabled
        assert client.get_webhook(hook.id).secret == hook.secret
        assert [h.id for h in client.list_webhooks()] == [hook.id] and client.list_webhooks()[0].secret is None
        changed = client.update_webhook(hook.id, enabled=False)
        assert not changed.enabled and changed.disabled_reason == "disabled by request"
        client.update_webhook(hook.id, enabled=True)
        client.send_events(ended_call("sdk-1") + ended_call("sdk-2"))
        page = client.list_webhook_deliveries(hook.id, limit=1)
        assert len(page.items) == 1 and page.next_cursor is not None and page.items[0].type == "call.ended"
        rest = client.list_webhook_deliveries(hook.id, cursor=page.next_cursor)
        assert len(rest.items) == 1 and rest.next_cursor is None
        assert client.retry_webhook_delivery(hook.id, rest.items[0].id).status == "pending"
        client.delete_webhook(hook.id)
        with pytest.raises(NotFoundError):
            client.get_webhook(hook.id)


def test_async_subscription_calls(async_transport: httpx.ASGITransport, tenant: Tenant) -> None:
    async def main() -> None:
        async with (
            httpx.AsyncClient(transport=async_transport, base_url=BASE_URL) as http,
            AsyncCalltrailClient(BASE_URL, tenant.key, http_client=http) as client,
        ):
            hook = await client.create_webhook("https://crm.example/a")
            assert hook.events == ["*"]
            assert (await client.update_webhook(hook.id, description="x")).description == "x"
            assert [h.id for h in await client.list_webhooks()] == [hook.id]
            assert (await client.list_webhook_deliveries(hook.id)).items == []
            await client.delete_webhook(hook.id)

    anyio.run(main)
