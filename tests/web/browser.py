"""Helpers of the dashboard's browser tests and of its screenshots: a ``calltrail serve --demo``
(with its phone channel and calls), and Chromium driven by Playwright for Python.

Needs Debian's ``chromium`` and ``npm ci`` in tests/web (axe-core); ``scripts/install-web-test``
installs both and ``scripts/test`` runs it. Without them the tests are skipped locally and fail
when ``CI`` is set.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Server, start_server

HERE = Path(__file__).parent
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ZONE = "Europe/Amsterdam"
DEMO_CALLS = 400
PHONE_CALLS = 200


def require_tools() -> None:
    """Skip (fail under CI) unless Chromium, axe-core and Playwright are installed."""
    missing = [
        what
        for what, ok in (
            (CHROMIUM, Path(CHROMIUM).exists()),
            ("axe-core (npm ci in tests/web)", AXE.exists()),
            ("playwright (pip install -e '.[dev]')", _has_playwright()),
        )
        if not ok
    ]
    if missing:
        message = f"dashboard browser tests need {', '.join(missing)}: run scripts/install-web-test"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def _has_playwright() -> bool:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class Demo:
    """A running demo server, its API key and the phone channel added to it."""

    server: Server
    key: str
    channel: str

    @property
    def base(self) -> str:
        return self.server.base_url


def start_demo(log_dir: Path) -> Demo:
    """``calltrail serve --demo`` on a fresh SQLite database: its calls, and its phone channel
    ("Support line") with phone calls, both made by ``--demo``."""
    db_url = f"sqlite:///{log_dir / 'demo.db'}"
    log_dir.mkdir(parents=True, exist_ok=True)
    server = start_server(
        db_url,
        "--demo",
        "--demo-calls",
        str(DEMO_CALLS),
        "--demo-phone-calls",
        str(PHONE_CALLS),
        log_dir=log_dir,
        timeout=180,
    )
    match = re.search(r"API key\s+:\s+([0-9a-f]{40})", server.output())
    assert match, server.output()
    assert f"Dashboard: http://localhost:{server.base_url.rsplit(':', 1)[1]}/" in server.output()
    channel = re.search(r"channel\s+:\s+([0-9a-f-]{36})", server.output())
    assert channel, server.output()
    return Demo(server, match.group(1), channel.group(1))


def launch(playwright: Any) -> Any:
    """Debian's Chromium (Playwright's own browser download does not work here)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])


def sign_in(page: Any, demo: Demo, target: str = "/") -> None:
    """Through the form, as a person would."""
    page.goto(f"{demo.base}{target}")
    page.get_by_label("API key").fill(demo.key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(re.escape(demo.base) + re.escape(target) + r"(\?.*)?$"))
