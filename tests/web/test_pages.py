"""The dashboard in process, on both backends: sign-in, sessions, CSRF, security headers,
escaping, and pages that show what the API returns."""

from __future__ import annotations

import re
import time
import uuid
from urllib.parse import parse_qsl, urlsplit

import pytest
from starlette.testclient import TestClient

from calltrail.kernel.tenancy import new_key_settings
from calltrail.store import Stores
from calltrail.store.secrets import SecretStore
from calltrail.store.tenants import hash_secret
from calltrail.voice.vocabulary import new_channel_settings
from calltrail.web import sessions
from calltrail.web.pages import SECRET_NAME
from tests.conftest import Tenant
from tests.web.conftest import csrf_of, sign_in

T0 = 1777000000
EVIL = "<script>alert(1)</script>"
PAGES = ("/", "/calls", "/calls/web-1", "/voice", "/users/ann", "/integrations", "/webhooks")


def _events(session_id: str, at: int, status_event: str = "call.ended") -> list[dict[str, object]]:
    common = {"sessionId": session_id}
    return [
        {
            **common,
            "id": f"{session_id}-i",
            "type": "call.initiated",
            "at": at,
            "initiator": "ann",
            "receiver": "ben",
            "receiverType": "user",
            "callType": "audio",
        },
        {**common, "id": f"{session_id}-s", "type": "call.started", "at": at + 4},
        {**common, "id": f"{session_id}-j1", "type": "participant.joined", "at": at + 4, "uid": "ann"},
        {**common, "id": f"{session_id}-j2", "type": "participant.joined", "at": at + 6, "uid": "ben"},
        {**common, "id": f"{session_id}-t", "type": "call.type_changed", "at": at + 30, "callType": "video"},
        {**common, "id": f"{session_id}-l", "type": "participant.left", "at": at + 64, "uid": "ben"},
        {**common, "id": f"{session_id}-e", "type": status_event, "at": at + 64},
        {
            **common,
            "id": f"{session_id}-r",
            "type": "recording.ready",
            "at": at + 70,
            "rid": "rec-1",
            "startTime": at + 4,
            "endTime": at + 64,
            "recording_url": "javascript:alert(1)",
        },
        {**common, "id": f"{session_id}-u", "type": "call.updated", "at": at + 71, "metaData": {"note": EVIL}},
    ]


@pytest.fixture
def calls(client: TestClient, tenant: Tenant) -> Tenant:
    """Three calls of ann and ben, ann's profile name is markup."""
    events = _events("web-1", T0) + _events("web-2", T0 + 100) + _events("web-3", T0 + 200, "call.unanswered")
    response = client.post("/v3/calls/events", json=events, headers=tenant.headers)
    assert response.status_code == 200, response.text
    assert client.put("/v3/users/ann", json={"name": EVIL}, headers=tenant.headers).status_code == 200
    return tenant


# -- signing in ---------------------------------------------------------------------------------


def test_pages_need_a_session(browser: TestClient) -> None:
    response = browser.get("/calls?status=ended")
    assert response.status_code == 303
    assert response.headers["location"] == "/signin?next=%2Fcalls%3Fstatus%3Dended"


def test_sign_in_form_and_wrong_key(browser: TestClient) -> None:
    form = browser.get("/signin")
    assert re.search(r'<label for="apikey">API key</label>', form.text)
    assert re.search(r'<button type="submit">Sign in</button>', form.text)
    wrong = browser.post("/signin", data={"apikey": "f" * 40, "csrf": csrf_of(form.text)})
    assert wrong.status_code == 401
    assert "That API key is not valid." in wrong.text
    assert "f" * 40 not in wrong.text  # the key is never echoed back


def test_auth_only_key_is_refused(browser: TestClient, stores: Stores, tenant: Tenant) -> None:
    secret, _ = stores.tenants.create_key(tenant.app_id, new_key_settings("authOnly", "Widget"))
    response = sign_in(browser, secret)
    assert response.status_code == 401
    assert "authOnly" in response.text


def test_sign_in_then_out(browser: TestClient, tenant: Tenant) -> None:
    response = sign_in(browser, tenant.key, "/calls?page=1")
    assert response.status_code == 303 and response.headers["location"] == "/calls?page=1"
    page = browser.get("/calls")
    assert page.status_code == 200
    assert "Sign out" in page.text
    out = browser.post("/signout", data={"csrf": csrf_of(page.text)})
    assert out.status_code == 303 and out.headers["location"] == "/signin"
    assert browser.get("/calls").status_code == 303


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "/\t/evil.example"])
def test_sign_in_never_leads_off_site(browser: TestClient, tenant: Tenant, target: str) -> None:
    response = sign_in(browser, tenant.key, target)
    assert response.headers["location"] == "/"


def test_cookie_flags_and_contents(browser: TestClient, tenant: Tenant) -> None:
    response = sign_in(browser, tenant.key)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{sessions.COOKIE}=")
    lowered = cookie.lower()
    assert "httponly" in lowered and "samesite=lax" in lowered and "path=/" in lowered
    assert f"max-age={sessions.IDLE_SECONDS}" in lowered
    assert "secure" not in lowered  # plain http: a Secure cookie would never come back
    assert tenant.key not in cookie
    behind_tls = browser.post(
        "/signout", data={"csrf": csrf_of(browser.get("/calls").text)}, headers={"x-forwarded-proto": "https"}
    )
    assert "; secure" in behind_tls.headers["set-cookie"].lower()


def test_session_ends_when_idle_or_when_its_key_is_gone(browser: TestClient, stores: Stores, tenant: Tenant) -> None:
    secret = SecretStore(stores.db).get(SECRET_NAME)
    now = int(time.time())
    live = sessions.new_session(now, tenant.app_id, hash_secret(tenant.key))
    browser.cookies.set(sessions.COOKIE, sessions.encode(live, secret))
    assert browser.get("/calls").status_code == 200
    idle = sessions.new_session(now - sessions.IDLE_SECONDS - 1, tenant.app_id, hash_secret(tenant.key))
    browser.cookies.set(sessions.COOKIE, sessions.encode(idle, secret))
    assert browser.get("/calls").status_code == 303
    gone = sessions.new_session(now, tenant.app_id, hash_secret("0" * 40))
    browser.cookies.set(sessions.COOKIE, sessions.encode(gone, secret))
    assert browser.get("/calls").status_code == 303
    forged = sessions.encode(live, b"another key")
    browser.cookies.set(sessions.COOKIE, forged)
    assert browser.get("/calls").status_code == 303


# -- CSRF ---------------------------------------------------------------------------------------


def test_sign_in_without_a_valid_csrf_token_is_refused(browser: TestClient, tenant: Tenant) -> None:
    browser.get("/signin")
    missing = browser.post("/signin", data={"apikey": tenant.key})
    assert missing.status_code == 403 and "The form expired" in missing.text
    other = TestClient(browser.app)
    foreign_token = csrf_of(other.get("/signin").text)  # issued to another browser's session
    crossed = browser.post("/signin", data={"apikey": tenant.key, "csrf": foreign_token})
    assert crossed.status_code == 403
    assert browser.get("/calls").status_code == 303  # still signed out


def test_sign_out_needs_the_csrf_token(signed_in: TestClient) -> None:
    refused = signed_in.post("/signout", data={"csrf": "forged"})
    assert refused.status_code == 403
    assert signed_in.get("/calls").status_code == 200  # still signed in


# -- headers and escaping -----------------------------------------------------------------------


@pytest.mark.parametrize("path", [*PAGES, "/signin"])
def test_security_headers_on_every_page(signed_in: TestClient, calls: Tenant, path: str) -> None:
    response = signed_in.get(path)
    assert response.status_code in (200, 303), (path, response.text[:300])
    csp = response.headers["content-security-policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    html = response.text
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script"
    assert not re.search(r"\sstyle=", html) and "<style" not in html, "inline style"
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"


def test_user_input_is_escaped(signed_in: TestClient, calls: Tenant) -> None:
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    for path in ("/calls", "/calls/web-1", "/users/ann"):
        html = signed_in.get(path).text
        assert EVIL not in html, path
        assert escaped in html, path
    call = signed_in.get("/calls/web-1").text
    assert 'href="javascript:' not in call and "javascript:alert(1)" in call  # shown, never linked


# -- pages show what the API returns ------------------------------------------------------------


def _total(html: str) -> int:
    match = re.search(r'<strong id="total">([\d,]+)</strong>', html)
    assert match, html[:2000]
    return int(match.group(1).replace(",", ""))


@pytest.mark.parametrize("query", ["", "status=ended", "uid=ann&status=unanswered", "type=video&hasRecording=true"])
def test_calls_total_matches_the_api(client: TestClient, signed_in: TestClient, calls: Tenant, query: str) -> None:
    api = client.get(f"/v3/calls?{query}", headers=calls.headers).json()
    page = signed_in.get(f"/calls?{query}")
    assert page.status_code == 200
    assert _total(page.text) == api["meta"]["pagination"]["total"]
    shown = re.findall(r'<td class="id"><a href="/calls/([^"]+)">', page.text)
    assert shown == [call["sessionId"] for call in api["data"]]


def test_filter_form_becomes_the_api_grammar(signed_in: TestClient, calls: Tenant) -> None:
    signed_in.cookies.set("calltrail_tz", "Asia/Kolkata")
    response = signed_in.get("/calls?status=ended&type=&mode=&uid=&from=2026-04-24&to=2026-04-24")
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert location.path == "/calls"
    # Midnight in Kolkata (+05:30) is 18:30 UTC the day before.
    assert parse_qsl(location.query) == [
        ("status", "ended"),
        ("initiatedAt[gte]", "1776969000"),
        ("initiatedAt[lt]", "1777055400"),
    ]
    page = signed_in.get(response.headers["location"])
    assert 'value="2026-04-24"' in page.text  # the form shows the days back


def test_paging(signed_in: TestClient, calls: Tenant) -> None:
    first = signed_in.get("/calls?perPage=2")
    assert 'rel="next" href="/calls?perPage=2&amp;page=2"' in first.text
    second = signed_in.get("/calls?perPage=2&page=2")
    assert re.findall(r'<td class="id"><a href="/calls/([^"]+)">', second.text) == ["web-1"]
    assert 'rel="prev" href="/calls?perPage=2&amp;page=1"' in second.text


def test_bad_filters_are_named(signed_in: TestClient, calls: Tenant) -> None:
    response = signed_in.get("/calls?type=fax&colour=red")
    assert response.status_code == 400
    assert "<code>type</code>" in response.text and "<code>colour</code>" in response.text
    assert signed_in.get("/calls?from=yesterday").status_code == 400


def test_call_page(signed_in: TestClient, calls: Tenant) -> None:
    html = signed_in.get("/calls/web-1").text
    assert 'aria-label="ann: joined' in html and 'aria-label="ben: joined' in html
    assert "switched to video at" in html
    assert "recording rec-1:" in html
    assert html.count("<tr><td>20") >= 9  # the events table, one row per event


def test_unknown_things_are_404_pages(signed_in: TestClient, calls: Tenant) -> None:
    for path in ("/calls/nope", f"/voice/{uuid.uuid4()}", f"/voice/{uuid.uuid4()}/calls/{uuid.uuid4()}"):
        response = signed_in.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("text/html")
    assert signed_in.get("/static/nope.css").status_code == 404


def test_api_paths_are_not_shadowed(signed_in: TestClient) -> None:
    response = signed_in.get("/v4/calls")
    assert response.status_code == 404 and response.json()["error"]["code"] == "ERR_API_NOT_FOUND"
    assert signed_in.get("/healthz").status_code == 200


def test_user_page_shows_direction_and_missed(client: TestClient, signed_in: TestClient, calls: Tenant) -> None:
    token = client.post("/v3/users/ben/auth_tokens", headers=calls.headers).json()["data"]["authToken"]
    view = client.get("/v3.0/calls", headers={"authToken": token}).json()["data"]
    html = signed_in.get("/users/ben").text
    rows = re.findall(r'<td class="id"><a href="/calls/([^"]+)">[^<]*</a></td><td>(\w+)</td><td>([^<]*<?[^<]*)', html)
    assert [(sid, direction) for sid, direction, _ in rows] == [(c["sessionId"], c["direction"]) for c in view]
    missed = [sid for sid, _, cell in rows if "missed" in cell]
    assert missed == [c["sessionId"] for c in view if c["missed"]]
    assert _total(html) == len(view)


def test_phone_pages(signed_in: TestClient, stores: Stores, calls: Tenant) -> None:
    channel = stores.voice.create_channel(calls.app_id, new_channel_settings(EVIL)).channel_id
    channels = signed_in.get("/voice").text
    assert f'href="/voice/{channel}"' in channels and EVIL not in channels
    empty = signed_in.get(f"/voice/{channel}?status=completed&from=")
    assert empty.status_code == 303
    listed = signed_in.get(f"/voice/{channel}?status=completed")
    assert listed.status_code == 200 and "No calls match." in listed.text
    assert signed_in.get(f"/voice/{channel}?status=flying").status_code == 400


def test_the_overview_settles_the_usage_rollups_before_its_snapshot(
    signed_in: TestClient, stores: Stores, calls: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page reads its series from the rollups in its one snapshot: their backlog is settled
    for the viewer's app before that snapshot (else the page would read every call around it)."""
    outside: list[tuple[str, bool]] = []  # (app, whether no snapshot was open on the thread)
    settle = stores.usage.settle

    def spy(app_id: str) -> None:
        outside.append((app_id, getattr(stores.db._local, "reading", None) is None))
        settle(app_id)

    monkeypatch.setattr(stores.usage, "settle", spy)
    response = signed_in.get("/", params={"from": "2026-04-24", "to": "2026-04-24", "tz": "UTC"})
    assert response.status_code == 200, response.text
    assert (calls.app_id, True) in outside
    assert re.search(r">\s*3\s*<", response.text)  # the three calls of the day
