"""Retention and purges: ``calltrail apps update --retention-days``, the sweeper inside
``calltrail serve`` and ``calltrail purge``. After each, totals and usage figures equal those of a
twin app that only ever had the calls kept. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import anyio
import orjson
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from calltrail.cli import main
from calltrail.jobs.feeder import feed_session_demo
from calltrail.jobs.sweeper import sweep_once, sweeping
from calltrail.kernel.instants import parse_rfc3339
from calltrail.store import Stores, open_stores
from calltrail.store.lifecycle import DAY_MS, Purger, retention_of, set_retention
from tests.conftest import Server
from tests.lifecycle.twins import Calls, call_of, figures, make_app, phone_calls, session_calls, session_of

UIDS = ("aria-santos-16", "priya-larsen-85")
CUTOFF = "2026-03-29T00:00:00Z"


def kept(sessions: Calls, phones: Calls, cutoff_ms: int) -> tuple[Calls, Calls]:
    """The calls initiated (phone calls: created, i.e. first event) at or after the cutoff."""
    return (
        [call for call in sessions if min(e["at"] for e in call) * 1000 >= cutoff_ms],
        [call for call in phones if min(parse_rfc3339(e["at"]) for e in call) >= cutoff_ms],
    )


def _run(stores: Stores, *args: str) -> dict[str, object]:
    result = CliRunner().invoke(main, [*args, "--db", stores.db.url], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return dict(orjson.loads(result.stdout.strip().splitlines()[-1]))


def test_retention_is_set_and_swept_in_batches(client: TestClient, stores: Stores) -> None:
    sessions, phones = session_calls(), phone_calls()
    app = make_app(stores, sessions, phones)
    cutoff = parse_rfc3339(CUTOFF)
    twin = make_app(stores, *kept(sessions, phones, cutoff))
    assert figures(client, app, UIDS) != figures(client, twin, UIDS)
    assert _run(stores, "apps", "update", "--app", app.app_id, "--retention-days", "30") == {
        "appId": app.app_id,
        "retentionDays": 30,
    }
    assert retention_of(stores.db, app.app_id) == 30
    assert sweep_once(stores, at_ms=cutoff + 30 * DAY_MS) > 0
    assert figures(client, app, UIDS) == figures(client, twin, UIDS)
    assert _run(stores, "apps", "update", "--app", app.app_id, "--retention-days", "0")["retentionDays"] == 0
    assert retention_of(stores.db, app.app_id) is None


def test_a_purge_in_small_batches_equals_one_big_one(client: TestClient, stores: Stores) -> None:
    sessions, phones = session_calls(seed=9), phone_calls(seed=10)
    app = make_app(stores, sessions, phones)
    cutoff = parse_rfc3339(CUTOFF)
    twin = make_app(stores, *kept(sessions, phones, cutoff))
    purger = Purger(stores.sessions, stores.voice, app.app_id, cutoff, batch=3)
    expected = len(sessions) + len(phones) - sum(map(len, kept(sessions, phones, cutoff)))
    assert purger.pending() == expected
    steps = 0
    while purger.step():
        steps += 1
    assert steps >= expected // 3 and purger.pending() == 0
    assert figures(client, app, UIDS) == figures(client, twin, UIDS)


def test_purge_command(client: TestClient, stores: Stores) -> None:
    sessions, phones = session_calls(seed=11), phone_calls(seed=12)
    app = make_app(stores, sessions, phones)
    cutoff = parse_rfc3339(CUTOFF)
    kept_sessions, kept_phones = kept(sessions, phones, cutoff)
    twin = make_app(stores, kept_sessions, kept_phones)
    removed = len(sessions) + len(phones) - len(kept_sessions) - len(kept_phones)
    out = _run(stores, "purge", "--app", app.app_id, "--before", "2026-03-29", "--yes")
    assert out == {"appId": app.app_id, "before": "2026-03-29T00:00:00Z", "deleted": removed}
    assert figures(client, app, UIDS) == figures(client, twin, UIDS)
    assert {session_of(c) for c in kept_sessions} == {
        c["sessionId"] for c in client.get("/v3/calls?perPage=1000", headers=app.headers).json()["data"]
    }
    assert {call_of(c) for c in kept_phones} == {
        c["id"]
        for c in client.get(f"/workspaces/{app.app_id}/channels/calls?limit=100", headers=app.bird).json()["results"]
    }


def test_purge_refuses_bad_input(stores: Stores) -> None:
    runner = CliRunner()
    bad_date = runner.invoke(main, ["purge", "--app", "x", "--before", "yesterday", "--db", stores.db.url])
    assert bad_date.exit_code == 2 and "--before" in bad_date.output
    no_zone = runner.invoke(main, ["purge", "--app", "x", "--before", "2026-03-29T10:00:00", "--db", stores.db.url])
    assert no_zone.exit_code == 2 and "time zone" in no_zone.output
    missing = runner.invoke(main, ["purge", "--app", "no-such-app", "--before", "2026-03-29", "--db", stores.db.url])
    assert missing.exit_code == 1 and "no-such-app" in missing.output
    negative = runner.invoke(main, ["apps", "update", "--app", "x", "--retention-days", "-1", "--db", stores.db.url])
    assert negative.exit_code == 2


def test_serve_sweeps_in_the_background(client: TestClient, stores: Stores) -> None:
    """The loop started by the server's lifespan deletes calls past retention on its own."""
    app = make_app(stores, session_calls(count=10, seed=13), phone_calls(count=5, seed=14))
    empty = make_app(stores, [], [])
    _run(stores, "apps", "update", "--app", app.app_id, "--retention-days", "30")  # the data is from March 2026
    purger = Purger(stores.sessions, stores.voice, app.app_id, int(time.time() * 1000) - 30 * DAY_MS)
    assert purger.pending() == 15

    async def serve_until_swept() -> None:
        async with sweeping(stores, interval=0.05):
            with anyio.fail_after(60):
                while await anyio.to_thread.run_sync(purger.pending):
                    await anyio.sleep(0.05)

    anyio.run(serve_until_swept)
    assert figures(client, app, UIDS) == figures(client, empty, UIDS)


@pytest.mark.parametrize("command", [["apps", "update"], ["purge"], ["users"], ["users", "erase"]])
def test_lifecycle_commands_have_help(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output


def test_calltrail_serve_runs_the_sweeper(
    server_factory: Callable[..., Server], database_url: Callable[[str], str]
) -> None:
    """A real ``calltrail serve`` process deletes calls past retention without being asked."""
    db_url = database_url("sqlite")
    own = open_stores(db_url)
    try:
        app = make_app(own, session_calls(count=8, seed=15), phone_calls(count=4, seed=16))
        set_retention(own.db, app.app_id, 30)  # the calls are from March 2026
    finally:
        own.close()
    server = server_factory(db_url)
    with server.client(headers=app.headers) as http:

        def left() -> tuple[int, list[object]]:
            sessions = http.get("/v3/calls").json()["meta"]["pagination"]["total"]
            phones = http.get(f"/workspaces/{app.app_id}/channels/calls", headers=app.bird).json()["results"]
            return sessions, phones

        # The sweeper deletes the sessions, then the phone calls: wait for both.
        deadline = time.monotonic() + 60
        while any(left()) and time.monotonic() < deadline:
            time.sleep(0.2)
        sessions, phones = left()
        assert sessions == 0, server.output()
        assert phones == []


def test_a_purge_while_events_arrive_stays_exact(client: TestClient, stores: Stores) -> None:
    """Ingestion of other calls goes on during a purge in small batches: afterwards the app
    equals a twin that only ever got the kept calls."""
    old, new = session_calls(count=40, seed=17), session_calls(count=30, seed=18)
    cutoff = parse_rfc3339(CUTOFF)
    old_kept, _ = kept(old, [], cutoff)
    new_kept, _ = kept(new, [], cutoff)
    app = make_app(stores, old, [])
    purger = Purger(stores.sessions, stores.voice, app.app_id, cutoff, batch=4)
    errors: list[BaseException] = []

    def purge() -> None:
        try:
            purger.run()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    worker = threading.Thread(target=purge)
    worker.start()
    for call in new_kept:  # recent calls arrive while old ones are deleted
        feed_session_demo(stores.sessions, app.app_id, [call])
    worker.join(120)
    assert not worker.is_alive() and not errors, errors
    twin = make_app(stores, [*old_kept, *new_kept], [])
    assert figures(client, app, UIDS) == figures(client, twin, UIDS)
