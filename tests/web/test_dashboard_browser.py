"""The dashboard in Debian's Chromium (Playwright for Python) against a running
``calltrail serve --demo``: sign-in, filters and totals against the API, paging, a call's
timeline against its record, a phone call, the overview's numbers against the usage figures,
the integrations and webhooks pages (hostile names shown as text, no secret in the page),
keyboard-only navigation, no console errors, and no serious or critical axe-core violation on
any page. See :mod:`tests.web.browser` for what it needs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson
import pytest
from click.testing import CliRunner

from calltrail.cli import main
from calltrail.web import timeline
from tests.conftest import stop_server
from tests.web.browser import AXE, ZONE, Demo, launch, require_tools, sign_in, start_demo

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
TZ = ZoneInfo(ZONE)
NAV = ["Overview", "Calls", "Phone calls", "Integrations", "Webhooks"]
#: Markup that would run if it were not escaped (a page's dialog handler fails the test).
EVIL = "<img src=x onerror=alert(1)><script>alert(2)</script>"
EVIL_URL = 'https://crm.example/hook?q="><script>alert(3)</script>'  # a URL has no spaces


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    require_tools()
    started = start_demo(tmp_path_factory.mktemp("dashboard"))
    yield started
    stop_server(started.server)


@pytest.fixture(scope="module")
def chromium(demo: Demo) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


#: Console errors a test expects, by page: Chromium logs every 4xx document it loads as one.
EXPECTED: dict[int, list[str]] = {}


def expect_status(page: Any, status: int) -> None:
    """The next page loaded answers ``status`` on purpose (a wrong key, a bad filter)."""
    EXPECTED.setdefault(id(page), []).append(f"the server responded with a status of {status}")


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    """A fresh browser profile in Amsterdam's zone; fails the test on any console error."""
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, timezone_id=ZONE, locale="en-US")
    opened = context.new_page()
    problems: list[str] = []
    opened.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    opened.on("pageerror", lambda error: problems.append(str(error)))
    yield opened
    context.close()
    expected = EXPECTED.pop(id(opened), [])
    unexpected = [p for p in problems if not any(e in p for e in expected)]
    assert unexpected == [] and len(problems) == len(expected), (problems, expected)


@pytest.fixture
def api(demo: Demo) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=demo.base, headers={"apikey": demo.key}, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def wired(demo: Demo) -> dict[str, Any]:
    """The demo app with integrations (made by the CLI) and a webhook (made by the API) whose
    names are markup; returns what was made, secrets included, to look for them on the pages."""

    def cli(*args: str) -> dict[str, Any]:
        result = CliRunner().invoke(main, [*args, "--db", demo.server.db_url])
        assert result.exit_code == 0, result.output
        return dict(orjson.loads(result.output))

    janus = cli("integrations", "create", "--app", "demo", "--provider", "janus")
    livekit_secret = "livekit-secret-" + "9" * 20
    livekit = cli(
        "integrations", "create", "--app", "demo", "--provider", "livekit", "--api-key", EVIL,
        "--api-secret", livekit_secret,
    )  # fmt: skip
    with httpx.Client(base_url=demo.base, headers={"apikey": demo.key}, timeout=30) as client:
        hook = client.post(
            "/api/webhooks",
            json={"url": EVIL_URL, "events": ["call.ended"], "description": EVIL},
        )
    assert hook.status_code == 201, hook.text
    return {
        "integrations": [janus, livekit],
        "webhook": hook.json()["data"],
        "secrets": [janus["password"], livekit_secret, hook.json()["data"]["secret"]],
    }


def axe_check(page: Any) -> None:
    """No serious or critical axe-core violation on the current page. axe is evaluated through
    the DevTools protocol, which the page's CSP does not govern (an injected <script> tag
    would rightly be refused)."""
    page.evaluate(AXE.read_text())
    result = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    serious = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in result]
    serious = [v for v in serious if v[1] in ("serious", "critical")]
    assert serious == [], (page.url, serious)


def total_of(page: Any) -> int:
    return int(page.locator("#total").inner_text().replace(",", ""))


def clock(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, TZ).strftime("%H:%M:%S")


def rfc_seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_sign_in_with_a_wrong_key_then_the_right_one(page: Any, demo: Demo) -> None:
    page.goto(f"{demo.base}/calls")
    assert "/signin?next=" in page.url
    axe_check(page)
    page.get_by_label("API key").fill("0" * 40)
    expect_status(page, 401)
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text() == "That API key is not valid."
    assert "0" * 40 not in page.url
    page.get_by_label("API key").fill(demo.key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{demo.base}/calls")
    nav = page.get_by_role("navigation", name="Main")
    assert [link.inner_text() for link in nav.get_by_role("link").all()] == NAV
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{demo.base}/signin")
    page.goto(f"{demo.base}/calls")
    assert "/signin?next=" in page.url


def test_every_page_passes_axe(page: Any, demo: Demo, api: httpx.Client, wired: dict[str, Any]) -> None:
    sign_in(page, demo)
    call = api.get("/v3/calls", params={"perPage": 1, "hasRecording": "true"}).json()["data"][0]
    phone = _phone_calls(demo)[0]
    for path in (
        "/",
        "/calls",
        "/calls?status=ended&type=video",
        f"/calls/{call['sessionId']}",
        f"/users/{call['initiator']}",
        "/voice",
        f"/voice/{demo.channel}",
        f"/voice/{demo.channel}/calls/{phone['id']}",
        "/integrations",
        "/webhooks",
        "/calls?type=fax",
    ):
        if "fax" in path:
            expect_status(page, 400)
        page.goto(f"{demo.base}{path}")
        axe_check(page)


def test_filter_by_status_and_user(page: Any, demo: Demo, api: httpx.Client) -> None:
    uid = api.get("/v3/calls", params={"perPage": 1, "status": "ended"}).json()["data"][0]["initiator"]
    sign_in(page, demo, "/calls")
    page.get_by_label("Status").select_option("ended")
    page.get_by_label("User").fill(uid)
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r".*/calls\?status=ended&uid="))
    expected = api.get("/v3/calls", params={"status": "ended", "uid": uid}).json()
    assert total_of(page) == expected["meta"]["pagination"]["total"] > 0
    shown = page.locator("table.calls tbody td.id a").all_inner_texts()
    assert shown == [c["sessionId"] for c in expected["data"]][: len(shown)]
    # the URL is the view: opened afresh it shows the same
    page.goto(page.url)
    assert total_of(page) == expected["meta"]["pagination"]["total"]


def test_page_forward_and_back(page: Any, demo: Demo, api: httpx.Client) -> None:
    sign_in(page, demo, "/calls")
    page.goto(f"{demo.base}/calls?perPage=20")
    first = page.locator("table.calls tbody td.id a").all_inner_texts()
    page.get_by_role("link", name="Next").click()
    page.wait_for_url(re.compile(r".*page=2"))
    second = page.locator("table.calls tbody td.id a").all_inner_texts()
    expected = api.get("/v3/calls", params={"perPage": 20, "page": 2}).json()["data"]
    assert second == [c["sessionId"] for c in expected] and not set(first) & set(second)
    page.get_by_role("link", name="Previous").click()
    page.wait_for_url(re.compile(r".*page=1"))
    assert page.locator("table.calls tbody td.id a").all_inner_texts() == first
    page.go_back()
    assert page.locator("table.calls tbody td.id a").all_inner_texts() == second


def test_call_timeline_matches_the_record(page: Any, demo: Demo, api: httpx.Client) -> None:
    listed = api.get("/v3/calls", params={"perPage": 1, "receiverType": "group", "status": "ended"}).json()
    session = listed["data"][0]["sessionId"]
    record = api.get(f"/v3/calls/{session}").json()["data"]
    sign_in(page, demo, "/calls")
    page.goto(f"{demo.base}/calls?receiverType=group&status=ended&perPage=1")
    page.get_by_role("link", name=session).click()
    page.wait_for_url(f"{demo.base}/calls/{session}")
    joined = [p for p in record["participants"] if "joinedAt" in p]
    bars = []
    for participant in joined:
        name = f"{participant['uid']}: joined {clock(participant['joinedAt'])}, left {clock(participant['leftAt'])}"
        bar = page.get_by_role("img", name=name, exact=True)
        assert bar.count() >= 1, name
        box = {k: float(bar.first.get_attribute(k)) for k in ("x", "width")}
        bars.append((participant["joinedAt"], participant["leftAt"], box))
    # One shared axis: every bar's position and length follow from its times at one scale.
    start = record["initiatedAt"]
    scale = [b["width"] / (left - joined_at) for joined_at, left, b in bars if left - joined_at >= 5]
    assert scale and max(scale) - min(scale) < 0.05 * max(scale)
    for joined_at, _, box in bars:
        assert abs(box["x"] - (timeline.TRACK_X + (joined_at - start) * scale[0])) < 2.5
    never = [p for p in record["participants"] if "joinedAt" not in p]
    for participant in never:
        assert page.get_by_text(f"{participant['uid']}: {participant['state']}").count() >= 1
    for recording in record.get("recordings", []):
        assert page.get_by_role("img", name=re.compile(f"^recording {recording['rid']}:")).count() == 1


def _phone_calls(demo: Demo, **params: Any) -> list[dict[str, Any]]:
    with httpx.Client(base_url=demo.base, timeout=30) as client:
        response = client.get(
            f"/workspaces/demo/channels/{demo.channel}/calls",
            params={"limit": 50, **params},
            headers={"Authorization": f"AccessKey {demo.key}"},
        )
    assert response.status_code == 200, response.text
    return list(response.json()["results"])


def test_phone_calls(page: Any, demo: Demo) -> None:
    sign_in(page, demo, "/voice")
    page.get_by_role("link", name="Support line").click()
    page.get_by_label("Status").select_option("completed")
    page.get_by_label("Direction").select_option("incoming")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r".*status=completed&direction=incoming"))
    expected = _phone_calls(demo, status="completed", direction="incoming")
    shown = page.locator("table.calls tbody td.id a").all_inner_texts()
    assert shown == [c["id"] for c in expected]
    page.get_by_role("link", name="Next").click()
    page.wait_for_url(re.compile(r".*pageToken="))
    assert page.locator("table.calls tbody td.id a").first.inner_text() not in shown
    call = expected[0]
    page.goto(f"{demo.base}/voice/{demo.channel}/calls/{call['id']}")
    answered, ended = rfc_seconds(call["answeredAt"]), rfc_seconds(call["endedAt"])
    name = f"this call: answered {clock(answered)} to {clock(ended)}"
    assert page.get_by_role("img", name=name, exact=True).count() == 1
    facts = page.locator("dl.facts")
    assert str(call["hangupCauseCode"]) in facts.inner_text()
    assert call["qualityInsights"]["mos"] in facts.inner_text()


def test_integrations_and_webhooks_pages(page: Any, demo: Demo, wired: dict[str, Any]) -> None:
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:  # an alert() would mean markup ran
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    sign_in(page, demo)
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Integrations").click()
    page.wait_for_url(f"{demo.base}/integrations")
    assert nav.get_by_role("link", name="Integrations").get_attribute("aria-current") == "page"
    rows = page.locator("table.integrations tbody tr").all()
    assert [row.locator("td").first.inner_text() for row in rows] == ["janus", "livekit"]
    for row, made in zip(rows, wired["integrations"], strict=True):
        assert made["path"] in row.inner_text()
    assert f"API key {EVIL}" in rows[1].inner_text()  # the markup, shown as text
    assert f"username {wired['integrations'][0]['username']}" in rows[0].inner_text()
    assert not any(secret in page.content() for secret in wired["secrets"])

    nav.get_by_role("link", name="Webhooks").click()
    page.wait_for_url(f"{demo.base}/webhooks")
    row = page.locator("table.webhooks tbody tr").first
    cells = row.locator("td").all_inner_texts()
    assert cells[:4] == [wired["webhook"]["url"], "call.ended", EVIL, "enabled"]
    assert page.get_by_role("heading", name=f"Deliveries to {wired['webhook']['url']}").count() == 1
    assert not any(secret in page.content() for secret in wired["secrets"])
    assert dialogs == [] and page.evaluate("document.querySelectorAll('main script, main img').length") == 0


def test_overview_numbers_are_the_usage_figures(page: Any, demo: Demo, api: httpx.Client) -> None:
    newest = api.get("/v3/calls", params={"perPage": 1}).json()["data"][0]["initiatedAt"]
    last = datetime.fromtimestamp(newest, TZ).date()
    first = last.replace(day=1)
    sign_in(page, demo)
    page.goto(f"{demo.base}/?from={first}&to={last}&tz={ZONE}")
    api_calls = page.get_by_role("link", name="GET /api/usage/calls").get_attribute("href")
    api_voice = page.get_by_role("link", name="GET /api/usage/voice").get_attribute("href")
    days = _usage(api, api_calls)
    voice_all = _usage(api, api_voice.replace("interval=day", "interval=all"))
    assert page.locator("#card-phone-calls").inner_text() == f"{voice_all[0]['calls']:,}"
    assert page.locator("#card-asr").inner_text() == f"{voice_all[0]['asr'] * 100:.1f}%"
    assert sum(day["calls"] for day in days) > 0
    assert page.locator("#card-calls").inner_text() == f"{sum(day['calls'] for day in days):,}"
    page.get_by_text("Calls per day, by status: table").click()
    rows = page.locator("#chart-calls-table tbody tr").all()
    assert len(rows) == len(days)
    for row, day in zip(rows, days, strict=True):
        cells = row.locator("td").all_inner_texts()
        assert row.locator("th").inner_text() == day["period"][:10]
        assert [int(c.replace(",", "")) for c in cells[:-1]] == list(day["statuses"].values())
        assert int(cells[-1].replace(",", "")) == day["calls"]


def _usage(api: httpx.Client, path: str) -> list[dict[str, Any]]:
    """The usage API's rows for ``path``."""
    response = api.get(path)
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def test_keyboard_only(page: Any, demo: Demo) -> None:
    page.goto(f"{demo.base}/")
    # autofocus is applied at a rendering step that may come after the load event
    page.wait_for_function("document.activeElement && document.activeElement.id === 'apikey'")
    page.keyboard.type(demo.key)  # the key field has the focus
    page.keyboard.press("Enter")
    page.wait_for_url(f"{demo.base}/")

    def tab_to(text: str, limit: int = 60) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.innerText") == text:
                return
        raise AssertionError(f"Tab never reached {text!r}")

    tab_to("Skip to content")
    tab_to("Calls")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{demo.base}/calls")
    first = page.locator("table.calls tbody td.id a").first.inner_text()
    tab_to(first, limit=200)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/calls/.+"))
    assert page.get_by_role("heading", level=1).inner_text() == f"Call {first}"


def test_a_100_row_calls_page_is_under_100_kb(page: Any, demo: Demo) -> None:
    """The issue's budget for one page of 100 calls (bench/dashboard.py prints the size)."""
    sign_in(page, demo, "/calls")
    response = page.goto(f"{demo.base}/calls?perPage=100")
    assert response is not None and len(response.body()) < 100_000
