"""CometChat's official web calls SDK (npm ``@cometchat/calls-sdk-javascript``), unchanged, in
headless Chromium, on a page served from another origin than Calltrail.

The page (``page.html`` + ``scenario.js``) initialises the SDK with
``setHost("<calltrail>/v3.0/")`` and lists, pages forward and back, filters and fetches call
details; ``run.mjs`` drives Chromium through playwright-core. Needs Debian's ``chromium`` and
``npm ci`` in this folder (``scripts/test-browser --install`` does both, and ``scripts/test``
runs it): without them the test is skipped locally, and fails when ``CI`` is set (``.ci/run``).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from calltrail.kernel.tenancy import new_app_settings
from calltrail.store import open_stores
from tests.conftest import Server
from tests.user_calls import GROUPS, ME, USERS, expected, load, newest_first

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

HERE = Path(__file__).parent
SDK_BUNDLE = HERE / "node_modules" / "@cometchat" / "calls-sdk-javascript" / "pack" / "index.js"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def _require_tools() -> None:
    missing = [
        what
        for what, ok in (
            ("node", shutil.which("node") is not None),
            (CHROMIUM, Path(CHROMIUM).exists()),
            (
                "npm packages (npm ci in tests/browser)",
                SDK_BUNDLE.exists() and (HERE / "node_modules" / "playwright-core").exists(),
            ),
        )
        if not ok
    ]
    if missing:
        message = f"browser test needs {', '.join(missing)}: run scripts/test-browser --install"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


class _PageHandler(SimpleHTTPRequestHandler):
    """Serves this folder, and the SDK's bundle at ``/sdk/index.js``."""

    def translate_path(self, path: str) -> str:
        if path.split("?")[0] == "/sdk/index.js":
            return str(SDK_BUNDLE)
        return super().translate_path(path)

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def page_origin() -> Iterator[str]:
    """A static web server for the page, on ``localhost`` (Calltrail answers on 127.0.0.1:
    another origin)."""
    _require_tools()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_PageHandler, directory=str(HERE)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _prepare(db_url: str) -> str:
    """Store the test history in app ``web``; returns alice's auth token."""
    stores = open_stores(db_url)
    try:
        stores.tenants.create_app(new_app_settings("Web", "web"))
        load(stores, "web")
        token, _ = stores.users.create_token("web", ME)
    finally:
        stores.close()
    return token


def _run_page(page_origin: str, server: Server, token: str, scenario: str, tmp_path: Path) -> dict[str, Any]:
    query = f"host={server.base_url}&token={token}&appId=web&scenario={scenario}"
    result = subprocess.run(
        [
            "node",
            str(HERE / "run.mjs"),
            f"{page_origin}/page.html?{query}",
            server.base_url,
            str(tmp_path / f"{scenario}.png"),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=HERE,
        env={**os.environ, "CHROMIUM": CHROMIUM},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcome: dict[str, Any] = json.loads(result.stdout)
    assert outcome["seen"]["pageErrors"] == [], outcome["seen"]
    # Nothing went to CometChat's cloud. (The SDK's bundle itself asks Google Fonts for its UI
    # font; that request is refused like any other leaving the two origins.)
    external = outcome["seen"]["external"]
    assert all(url.startswith("https://fonts.googleapis.com/") for url in external), external
    return outcome


def test_official_web_sdk_reads_a_users_call_logs(
    page_origin: str, server_factory: Callable[..., Server], database_url: Callable[[str], str], tmp_path: Path
) -> None:
    db_url = database_url("sqlite")
    token = _prepare(db_url)
    server = server_factory(db_url)
    outcome = _run_page(page_origin, server, token, "full", tmp_path)
    assert outcome["ok"], outcome
    result = outcome["result"]
    mine = expected(ME)
    everything = newest_first(set(mine))

    # Paging: the SDK's own fetchNext/fetchPrevious, driven by meta.pagination.
    pages = [everything[i : i + 5] for i in range(0, len(everything), 5)]
    assert result["all"] == {"forward": pages, "back": pages[-2::-1]}

    logs = {log["sessionId"]: log for log in result["logs"]}
    assert list(logs) == everything
    assert {sid: (log["direction"], log["missed"]) for sid, log in logs.items()} == mine
    # The SDK's getters read the entities, category, participants and recordings.
    assert logs["c02"]["initiator"] == {"uid": "bob", "name": USERS["bob"][0], "avatar": USERS["bob"][1]}
    assert logs["c07"]["initiator"] == {"uid": "dave", "name": "dave"}  # getAvatar(): undefined
    assert logs["c07"]["receiver"] == {"guid": "team", "name": GROUPS["team"][0], "icon": GROUPS["team"][1]}
    assert logs["c16"]["callCategory"] == "meet" and logs["c16"]["hasRecording"] is True
    assert logs["c16"]["recordings"] == [{"rid": "rec-c16", "url": "https://rec.example.com/c16.mp4"}]
    alice = [p for p in logs["c17"]["participants"] if p["uid"] == ME]
    assert {(p["name"], p["hasJoined"], p["deviceID"]) for p in alice} == {
        ("Alice Archer", True, "alice-phone"),
        ("Alice Archer", True, "alice-laptop"),
    }
    assert logs["c17"]["totalParticipants"] == 3

    # Every filter, paged forward and back.
    def ids(pick: Callable[[str, tuple[str, bool]], bool], size: int) -> dict[str, list[list[str]]]:
        chosen = [sid for sid in everything if pick(sid, mine[sid])]
        chunks = [chosen[i : i + size] for i in range(0, len(chosen), size)]
        return {"forward": chunks, "back": chunks[-2::-1]}

    by_id = logs
    assert result["missedIncoming"] == ids(lambda s, e: e[1], 2)
    assert result["outgoing"] == ids(lambda s, e: e[0] == "outgoing", 3)
    assert result["video"] == ids(lambda s, e: by_id[s]["type"] == "video", 30)
    assert result["recorded"] == ids(lambda s, e: by_id[s]["hasRecording"], 30)
    assert result["meet"] == ids(lambda s, e: by_id[s]["callCategory"] == "meet", 30)
    assert result["ended"] == ids(lambda s, e: by_id[s]["status"] == "ended", 4)
    with_bob = {"c01", "c02", "c03", "c05", "c06", "c11", "c18"}
    assert result["withBob"] == ids(lambda s, e: s in with_bob, 30)
    assert result["team"] == ids(lambda s, e: by_id[s]["receiver"].get("guid") == "team", 2)

    (details,) = result["details"]
    assert (details["sessionId"], details["direction"], details["missed"]) == ("c07", "incoming", True)
    assert result["notMine"]["code"] == "ERR_CALL_SESSION_NOT_FOUND"
    assert result["badToken"]["code"] == "AUTH_ERR_AUTH_TOKEN_NOT_FOUND"
    assert result["badLimit"]["code"] == "ERR_BAD_REQUEST"
    assert list(result["badLimit"]["details"]) == ["perPage"]

    # What the SDK sent: the user's token in the authToken header, the documented parameters.
    sent = outcome["seen"]["requests"]
    assert sent and all(r["method"] == "GET" for r in sent)
    assert all(r["url"].startswith(f"{server.base_url}/v3.0/calls") for r in sent)
    assert {r["headers"].get("authtoken") for r in sent} == {token, "revoked"}
    assert any("status=missed" in r["url"] and "direction=incoming" in r["url"] for r in sent)


def test_a_page_on_an_origin_outside_the_allow_list_is_refused(
    page_origin: str, server_factory: Callable[..., Server], database_url: Callable[[str], str], tmp_path: Path
) -> None:
    db_url = database_url("sqlite")
    token = _prepare(db_url)
    server = server_factory(db_url, env={"CALLTRAIL_CORS_ORIGINS": "https://only.example.com"})
    outcome = _run_page(page_origin, server, token, "blocked", tmp_path)
    assert outcome["ok"], outcome
    assert "rejected" in outcome["result"], outcome["result"]  # the browser would not hand over the answer
    assert any("CORS" in line for line in outcome["seen"]["console"]), outcome["seen"]["console"]
    # Allowing the page's origin makes the same page work.
    server.process.terminate()
    server.process.wait(10)
    allowed = server_factory(db_url, env={"CALLTRAIL_CORS_ORIGINS": f"https://only.example.com,{page_origin}"})
    outcome = _run_page(page_origin, allowed, token, "blocked", tmp_path)
    assert outcome["result"] == {"resolved": len(expected(ME))}
