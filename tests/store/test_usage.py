"""The usage tables stay exact: slot sums equal their calls after writes, imports and deletions,
and the one-time backfill recomputes exactly what the writers keep. Both engines."""

from __future__ import annotations

from typing import Any

from calltrail.store import Stores
from calltrail.store.usage import backfill
from tests.api.native.conftest import load_usage_app

TABLES = {
    "usage_calls": "initiated_at, session_id",
    "call_members": "session_id, uid",
    "usage_long_members": "uid, open_until, session_id",
    "usage_call_slots": "slot, status, type, mode, receiver_type, has_recording",
    "usage_voice_calls": "call_id",
}


def _dump(stores: Stores, app_id: str) -> dict[str, list[tuple[Any, ...]]]:
    with stores.db.read() as conn:
        return {
            table: [
                tuple(row)
                for row in conn.fetchall(f"SELECT * FROM {table} WHERE app_id = ? ORDER BY {order}", (app_id,))
            ]
            for table, order in TABLES.items()
        }


def _slots_from_calls(stores: Stores, app_id: str) -> list[tuple[Any, ...]]:
    with stores.db.read() as conn:
        return [
            tuple(int(v) if not isinstance(v, str) else v for v in row)
            for row in conn.fetchall(
                "SELECT initiated_at / 900, status, type, mode, receiver_type, has_recording, count(*), "
                "sum(CASE WHEN started_at IS NULL THEN 0 ELSE 1 END), sum(duration_ms), "
                "sum(CASE WHEN started_at IS NULL THEN 0 ELSE duration_ms END), sum(audio_ms), sum(video_ms), "
                "sum(participant_ms) FROM usage_calls WHERE app_id = ? "
                "GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6",
                (app_id,),
            )
        ]


def _slots(stores: Stores, app_id: str) -> list[tuple[Any, ...]]:
    with stores.db.read() as conn:
        return [
            tuple(int(v) if not isinstance(v, str) else v for v in row)
            for row in conn.fetchall(
                "SELECT slot, status, type, mode, receiver_type, has_recording, calls, started, duration_ms, "
                "started_duration_ms, audio_ms, video_ms, participant_ms FROM usage_call_slots WHERE app_id = ? "
                "ORDER BY 1, 2, 3, 4, 5, 6",
                (app_id,),
            )
        ]


def test_backfill_recomputes_what_the_writers_keep(stores: Stores) -> None:
    app = load_usage_app(stores)
    kept = _dump(stores, app.app_id)
    assert all(kept.values())
    with stores.db.write() as conn:
        for table in TABLES:
            conn.execute(f"DELETE FROM {table} WHERE app_id = ?", (app.app_id,))
        conn.execute("INSERT INTO usage_backfill (app_id) VALUES (?)", (app.app_id,))
    assert backfill(stores.db) == [app.app_id]
    assert _dump(stores, app.app_id) == kept
    assert backfill(stores.db) == []


def test_slot_sums_equal_their_calls_after_deletions(stores: Stores) -> None:
    app = load_usage_app(stores)
    assert _slots(stores, app.app_id) == _slots_from_calls(stores, app.app_id)
    with stores.db.read() as conn:
        doomed = [
            sid
            for (sid,) in conn.fetchall(
                "SELECT session_id FROM calls WHERE app_id = ? ORDER BY session_id LIMIT 50", (app.app_id,)
            )
        ]
    with stores.db.write() as conn:
        stores.sessions._delete_rows(conn, app.app_id, doomed)
    assert _slots(stores, app.app_id) == _slots_from_calls(stores, app.app_id)
    with stores.db.read() as conn:
        among, ids = conn.any_of("session_id", doomed)
        assert not conn.fetchall(f"SELECT 1 FROM call_members WHERE app_id = ? AND {among}", (app.app_id, *ids))
        # No empty slot row is left behind.
        assert not conn.fetchall("SELECT 1 FROM usage_call_slots WHERE app_id = ? AND calls = 0", (app.app_id,))
