"""The dashboard's ``/integrations`` and ``/webhooks`` pages in process, on both backends: the
navigation, what each page lists, helpful empty states, escaping of user input, that no secret
ever reaches the HTML, and one worker trip per page (their security headers are checked with
every page's in test_pages.py)."""

from __future__ import annotations

import re
import secrets

import pytest
from starlette.testclient import TestClient

from calltrail.adapters.integrations import hash_password, new_integration
from calltrail.kernel.instants import now_ms
from calltrail.kernel.tenancy import new_app_settings
from calltrail.outbound.subscriptions import Changes, parse_new
from calltrail.store import Stores
from calltrail.store.leases import Claim, LeaseStore, Outcome
from calltrail.voice.vocabulary import new_channel_settings
from tests.api.conftest import trips  # noqa: F401  (the worker-trip counter, shared)
from tests.conftest import Tenant
from tests.web.test_pages import EVIL, T0, _events

ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
NAV = [("/", "Overview"), ("/calls", "Calls"), ("/voice", "Phone calls"), ("/integrations", "Integrations"),
       ("/webhooks", "Webhooks")]  # fmt: skip


def _nav(html: str) -> list[tuple[str, str]]:
    match = re.search(r'<nav aria-label="Main">(.*?)</nav>', html, re.S)
    assert match, html[:1000]
    return re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', match.group(1))


@pytest.mark.parametrize(
    ("path", "current"),
    [
        ("/", "/"),
        ("/calls", "/calls"),
        ("/voice", "/voice"),
        ("/integrations", "/integrations"),
        ("/webhooks", "/webhooks"),
    ],
)
def test_every_page_has_the_five_links(signed_in: TestClient, path: str, current: str) -> None:
    html = signed_in.get(path).text
    assert _nav(html) == NAV
    assert re.findall(r'<a href="([^"]+)" aria-current="page">', html) == [current]


def test_the_new_pages_need_a_session(browser: TestClient) -> None:
    for path in ("/integrations", "/webhooks"):
        response = browser.get(path)
        assert response.status_code == 303 and response.headers["location"] == f"/signin?next=%2F{path[1:]}"


# -- /integrations -----------------------------------------------------------------------------


def test_no_integrations_says_how_to_connect_one(signed_in: TestClient, tenant: Tenant) -> None:
    html = signed_in.get("/integrations").text
    assert "No integrations yet" in html
    assert f"<code>calltrail integrations create --app {tenant.app_id} --provider janus</code>" in html
    assert "cometchat, freeswitch, janus, kamailio, livekit, twilio" in html


def test_integrations_are_listed_without_secrets_and_escaped(
    signed_in: TestClient, stores: Stores, tenant: Tenant
) -> None:
    channel = stores.voice.create_channel(tenant.app_id, new_channel_settings(EVIL)).channel_id
    livekit, _ = new_integration(tenant.app_id, "livekit", api_key=EVIL, secret="livekit-signing-secret-123")
    janus, password = new_integration(tenant.app_id, "janus")
    twilio, _ = new_integration(
        tenant.app_id,
        "twilio",
        channel_id=channel,
        secret="twilio-auth-token-456",
        public_url=f"https://x.example/{EVIL}",
    )
    for integration in (livekit, janus, twilio):
        stores.integrations.create(integration)
    assert password is not None and janus.password_hash == hash_password(password)
    response = signed_in.get("/integrations")
    assert response.status_code == 200
    html = response.text
    for secret in ("livekit-signing-secret-123", "twilio-auth-token-456", password, janus.password_hash):
        assert secret not in html
    assert EVIL not in html and html.count(ESCAPED) == 3  # the API key, the channel's name, the public URL
    rows = re.findall(r"<tr>\s*<td>(\w+)</td>.*?<code>(/hooks/[^<]+)</code>.*?</tr>", html, re.S)
    assert rows == [(i.provider, i.path) for i in stores.integrations.list(tenant.app_id)]
    assert f"username <code>{janus.username}</code>" in html
    assert f'phone calls of <a href="/voice/{channel}">{ESCAPED}</a>' in html
    assert "No integrations yet" not in html


def test_integrations_of_other_apps_are_not_shown(signed_in: TestClient, stores: Stores, other: Tenant) -> None:
    integration, _ = new_integration(other.app_id, "janus")
    stores.integrations.create(integration)
    html = signed_in.get("/integrations").text
    assert integration.integration_id not in html and "No integrations yet" in html


# -- /webhooks ---------------------------------------------------------------------------------


def test_no_webhooks_says_how_to_subscribe(signed_in: TestClient, tenant: Tenant) -> None:
    html = signed_in.get("/webhooks").text
    assert "No webhooks yet" in html
    assert f"<code>calltrail webhooks create --app {tenant.app_id} --url https://example.com/calltrail</code>" in html
    assert "<code>voice.call.ended</code>" in html and "POST /api/webhooks" in html


def test_webhooks_and_their_deliveries_without_the_secret(
    client: TestClient, signed_in: TestClient, stores: Stores, tenant: Tenant
) -> None:
    hostile_url = f"https://evil.example/hook?q={EVIL}"
    sub = stores.outbox.create(
        tenant.app_id, parse_new({"url": hostile_url, "events": ["call.ended", "call.missed"], "description": EVIL})
    )
    quiet = stores.outbox.create(tenant.app_id, parse_new({"url": "https://quiet.example/h"}))
    stores.outbox.update(tenant.app_id, quiet.subscription_id, Changes(enabled=False))
    # Two ended calls raise two deliveries; the receiver refused the older one.
    events = _events("hook-1", T0) + _events("hook-2", T0 + 100)
    assert client.post("/v3/calls/events", json=events, headers=tenant.headers).status_code == 200
    pending = stores.outbox.deliveries(tenant.app_id, sub.subscription_id, None, 10).items
    assert [d.event_type for d in pending] == ["call.ended", "call.ended"]
    older = pending[-1]
    claim = Claim(tenant.app_id, sub.subscription_id, sub.url, sub.secret, [])
    failure = Outcome(older.delivery_id, now_ms(), 12, None, f"refused: {EVIL}", delivered=False, retry_at_ms=None)
    LeaseStore(stores.db).record(claim, [failure], renew_ms=None, disable_after_ms=10**9)

    response = signed_in.get("/webhooks")
    assert response.status_code == 200
    html = response.text
    for secret in (sub.secret, quiet.secret):
        assert secret not in html
    assert EVIL not in html
    assert html.count(ESCAPED) >= 5  # URL and description in the table; the section heading,
    # the deliveries' caption, and the recorded error
    assert '<span class="status s-enabled">enabled</span>' in html
    assert '<span class="status s-disabled">disabled</span> <span class="muted">disabled by request' in html
    assert "<code>call.ended</code>, <code>call.missed</code>" in html and "<code>*</code>" in html
    assert f'<a href="#deliveries-{sub.subscription_id}">1 pending, 1 failed</a>' in html
    assert f'<a href="#deliveries-{quiet.subscription_id}">none yet</a>' in html
    section = html.split(f'id="deliveries-{sub.subscription_id}"')[1].split("</section>")[0]
    shown = re.findall(r'<span class="status s-(\w+)">', section)
    assert shown == ["pending", "failed"]  # newest first
    assert f"refused: {ESCAPED}" in section
    assert [d.delivery_id for d in pending] == re.findall(r"<code>(dlv_\w+)</code>", section)
    assert "No deliveries yet" in html.split(f'id="deliveries-{quiet.subscription_id}"')[1]


def test_webhooks_of_other_apps_are_not_shown(signed_in: TestClient, stores: Stores, other: Tenant) -> None:
    sub = stores.outbox.create(other.app_id, parse_new({"url": "https://other.example/h"}))
    html = signed_in.get("/webhooks").text
    assert "other.example" not in html and sub.subscription_id not in html and "No webhooks yet" in html


# -- shared machinery --------------------------------------------------------------------------


@pytest.fixture
def other(stores: Stores) -> Tenant:
    """An app the signed-in key does not belong to."""
    app = stores.tenants.create_app(new_app_settings("Other app", f"o-{secrets.token_hex(6)}"))
    return Tenant(app.app_id, "")


@pytest.mark.parametrize("path", ["/integrations", "/webhooks"])
def test_one_worker_trip_per_page(
    signed_in: TestClient,
    stores: Stores,
    tenant: Tenant,
    trips: list[int],  # noqa: F811
    path: str,
) -> None:
    """Security headers and escaping on these pages are checked with every page in test_pages."""
    stores.outbox.create(tenant.app_id, parse_new({"url": "https://r.example/h"}))
    stores.integrations.create(new_integration(tenant.app_id, "janus")[0])
    trips[0] = 0
    response = signed_in.get(path)
    assert response.status_code == 200 and trips[0] == 1
    assert response.headers["cache-control"] == "no-store"
