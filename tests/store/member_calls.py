"""An app of random calls (short, long, still ongoing, starting before their initiation) with
random members, written, rewritten and deleted through the session writers: what the tests of the
per-user rollups' writers, of their series reads and of the backlog share."""

from __future__ import annotations

import random
import secrets

import orjson
import pytest

from calltrail.kernel.tenancy import new_app_settings
from calltrail.sessions.vocabulary import CallRow, Member
from calltrail.store import Stores
from calltrail.store.usage_backlog import has_backlog, settle
from tests.store.rollup_calls import STATUSES, random_span

USERS = ("ana", "bo", "cy", "dee", "eli", "fay")


def _random_call(rng: random.Random, index: int) -> CallRow:
    initiated, status, started, ended = random_span(rng, (*STATUSES, "rejected"))
    users = rng.sample(USERS, rng.randrange(1, 5))
    entries = [{"uid": uid, "totalDuration": rng.randrange(0, 10**6) / 1000} for uid in users if rng.random() < 0.7]
    members = tuple(
        Member(uid, n == 0, rng.random() < 0.5, False, n > 0 and rng.random() < 0.4) for n, uid in enumerate(users)
    )
    return CallRow(
        session_id=f"s{index:05d}",
        source="test",
        initiated_at=initiated,
        status=status,
        type=rng.choice(("audio", "video")),
        mode=rng.choice(("call", "meet")),
        receiver_type="user",
        initiator=users[0],
        receiver=users[-1],
        started_at=started,
        ended_at=ended,
        duration=rng.randrange(0, 10**5) / 100,
        audio_minutes=rng.randrange(0, 10**4) / 100,
        video_minutes=0.0,
        total_participants=len(entries),
        participants_count=len(entries),
        has_recording=False,
        summary=orjson.dumps({"participants": entries}),
        extra=None,
        scalars=b"[]",
        members=members,
    )


def _write_random_calls(stores: Stores, app_id: str) -> int:
    """Twelve batches of 40 new calls, each also rewriting 5 earlier ones and deleting 5; returns
    how many batches left no backlog."""
    rng = random.Random(11)
    current: set[int] = set()
    settled = 0
    for batch in range(12):
        fresh = [_random_call(rng, batch * 40 + n) for n in range(40)]
        old = rng.sample(sorted(current), min(len(current), 10))
        rewritten = [_random_call(rng, index) for index in old[:5]]
        with stores.db.write() as conn:
            stores.sessions._delete_rows(conn, app_id, [f"s{index:05d}" for index in old[5:]])
            stores.sessions._write_rows(conn, app_id, [*fresh, *rewritten])
            settled += not has_backlog(conn, app_id)
        current -= set(old[5:])
        current |= {batch * 40 + n for n in range(40)}
    return settled


@pytest.fixture(scope="module")
def filled(stores: Stores) -> str:
    app_id = stores.tenants.create_app(new_app_settings("Members", f"m-{secrets.token_hex(5)}")).app_id
    _write_random_calls(stores, app_id)
    settle(stores.db, app_id)
    return app_id
