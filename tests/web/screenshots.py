"""Take the screenshots of docs/dashboard.md: one per page, 1280x800, from a fresh demo server.

    .venv/bin/python -m tests.web.screenshots        # writes docs/img/dashboard-*.png

Needs what the browser tests need (``scripts/install-web-test``).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from playwright.sync_api import sync_playwright

from tests.conftest import stop_server
from tests.web.browser import ZONE, Demo, launch, sign_in, start_demo

OUT = Path(__file__).parents[2] / "docs" / "img"


def _pages(demo: Demo) -> list[tuple[str, str]]:
    with httpx.Client(base_url=demo.base, timeout=30) as api:
        call = api.get(
            "/v3/calls",
            params={"perPage": 1, "receiverType": "group", "status": "ended", "hasRecording": "true"},
            headers={"apikey": demo.key},
        ).json()["data"][0]
        phones = api.get(
            f"/workspaces/demo/channels/{demo.channel}/calls",
            params={"limit": 100, "status": "completed"},
            headers={"Authorization": f"AccessKey {demo.key}"},
        ).json()["results"]
        # Something to show on the Integrations and Webhooks pages.
        api.post(
            "/api/webhooks",
            json={"url": "https://hooks.example.com/calltrail", "description": "CRM sync"},
            headers={"apikey": demo.key},
        ).raise_for_status()
    for provider, extra in (("livekit", ["--api-key", "APIdemo", "--api-secret", "demo-secret"]),
                            ("freeswitch", ["--channel", demo.channel])):  # fmt: skip
        subprocess.run(
            [sys.executable, "-m", "calltrail", "integrations", "create", "--app", "demo", "--provider", provider,
             *extra, "--db", demo.server.db_url],
            check=True, capture_output=True,
        )  # fmt: skip
    newest = datetime.fromtimestamp(call["initiatedAt"], ZoneInfo(ZONE)).date()
    phone = next((c for c in phones if c.get("parentId")), phones[0])
    return [
        ("overview", f"/?from={newest - timedelta(days=29)}&to={newest}&tz={ZONE}"),
        ("calls", "/calls?status=ended&perPage=8"),
        ("call", f"/calls/{call['sessionId']}"),
        ("user", f"/users/{call['initiator']}"),
        ("phone-calls", f"/voice/{demo.channel}?limit=8"),
        ("phone-call", f"/voice/{demo.channel}/calls/{phone.get('parentId') or phone['id']}"),
        ("integrations", "/integrations"),
        ("webhooks", "/webhooks"),
    ]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        demo = start_demo(Path(folder))
        try:
            with sync_playwright() as playwright:
                browser = launch(playwright)
                context = browser.new_context(viewport={"width": 1280, "height": 800}, timezone_id=ZONE)
                page = context.new_page()
                page.goto(f"{demo.base}/signin")
                page.screenshot(path=OUT / "dashboard-signin.png")
                sign_in(page, demo)
                for name, path in _pages(demo):
                    page.goto(f"{demo.base}{path}")
                    page.screenshot(path=OUT / f"dashboard-{name}.png")
                browser.close()
        finally:
            stop_server(demo.server)
    for shot in sorted(OUT.glob("dashboard-*.png")):
        print(f"{shot.relative_to(OUT.parents[1])}: {shot.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
