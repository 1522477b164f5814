"""An app of random calls (short, long, still ongoing, starting before their initiation) written
straight into ``usage_calls``, rewritten and deleted, each write refreshing the rollups: what the
tests of the rollups' writers and of their series reads share."""

from __future__ import annotations

import random
import secrets

import pytest

from calltrail.kernel.tenancy import new_app_settings
from calltrail.store import Stores
from calltrail.store.usage import CALL_COLUMNS, CallUsage
from calltrail.store.usage_rollups import refresh

BASE = 1_774_000_000  # 2026-03-20, before Europe's DST change
DAY = 86_400


#: The statuses a random call takes, ended the most often.
STATUSES = ("ended", "ended", "ended", "ongoing", "unanswered", "cancelled", "initiated")


def random_span(rng: random.Random, statuses: tuple[str, ...] = STATUSES) -> tuple[int, str, int | None, int | None]:
    """A random call's ``(initiated, status, started, ended)`` in 12 days from :data:`BASE`: short,
    long (past a day), still ongoing, started before it was initiated or in the future."""
    initiated = BASE + rng.randrange(0, 12 * DAY)
    status = rng.choice(statuses)
    started = ended = None
    if status in ("ended", "ongoing") or rng.random() < 0.1:
        started = initiated + rng.choice((0, rng.randrange(1, 40), rng.randrange(-30, 0)))
        length = rng.choice((rng.randrange(1, 600), rng.randrange(600, 3600), rng.randrange(3600, 3 * DAY), 3600))
        ended = None if status == "ongoing" else started + length
        if status == "ongoing" and rng.random() < 0.3:
            started += rng.randrange(0, 20 * DAY)  # in the future of some series
    return initiated, status, started, ended


def _random_call(rng: random.Random, index: int) -> CallUsage:
    initiated, status, started, ended = random_span(rng)
    kind, mode = rng.choice(("audio", "video")), rng.choice(("call", "meet", "presenter"))
    return CallUsage(initiated, f"s{index:05d}", started, ended, status, kind, mode, rng.choice(("user", "group")),
                     0, "u1", rng.randrange(0, 10**6), rng.randrange(0, 10**5), 0, rng.randrange(0, 10**6))  # fmt: skip


def _write(stores: Stores, app_id: str, calls: list[CallUsage], old: list[CallUsage]) -> None:
    with stores.db.write() as conn:
        if old:
            among, ids = conn.any_of("session_id", [call.session_id for call in old])
            conn.execute(f"DELETE FROM usage_calls WHERE app_id = ? AND {among}", (app_id, *ids))
        rows = [(app_id, *(getattr(call, name) for name in CALL_COLUMNS[1:])) for call in calls]
        conn.insert_rows("usage_calls", CALL_COLUMNS, rows)
        refresh(conn, app_id, [call.span() for call in [*old, *calls]])


@pytest.fixture(scope="module")
def filled(stores: Stores) -> tuple[str, dict[str, CallUsage]]:
    app_id = stores.tenants.create_app(new_app_settings("Rollups", f"r-{secrets.token_hex(5)}")).app_id
    rng = random.Random(7)
    current: dict[str, CallUsage] = {}
    for batch in range(12):
        fresh = [_random_call(rng, batch * 40 + n) for n in range(40)]
        old = [current[key] for key in rng.sample(sorted(current), min(len(current), 10))]
        rewritten = [_random_call(rng, int(call.session_id[1:])) for call in old[:5]]
        _write(stores, app_id, [*fresh, *rewritten], old)
        for call in old:
            del current[call.session_id]
        current.update((call.session_id, call) for call in [*fresh, *rewritten])
    return app_id, current
