"""Export cursors on both engines: a tabular export read as value arrays by the database
(``Connection.json_values``) gives exactly the bytes of the same rows decoded from whole records,
whatever the records hold, across pages."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import orjson
import pytest

from calltrail.exports.records import KINDS, encode_page, value_paths
from calltrail.exports.registry import FORMATS
from calltrail.kernel.tenancy import new_app_settings
from calltrail.sessions.query import CallQuery
from calltrail.store import Stores
from calltrail.store.exports import ExportCursor
from calltrail.store.migrations import m0017_call_scalars
from calltrail.voice.query import ChannelCallQuery
from calltrail.voice.vocabulary import new_channel_settings

# What a column may hold in a stored record that a CSV cell must show exactly as today: quoting,
# escapes, non-ASCII, JSON literals as text, numbers Python and orjson write differently (below
# 1e-4), nested values, and the NUL that PostgreSQL's JSON functions refuse.
AWKWARD: list[Any] = [
    'a,"b"',
    "line\nbreak",
    "cr\rhere",
    "tab\there",
    "é ü 漢字 🎉",
    "",
    "null",
    "true",
    "back\\slash",
    "nul\u0000byte",
    "[x]",
    "{y}",
    "0.00001",
    "e-5,",
    1e-05,
    1.5e-07,
    -2.5e-05,
    1e16,
    1.5e300,
    5e-324,
    0,
    0.0,
    -0.0,
    3.14,
    10**18,
    -7,
    True,
    False,
    None,
    {"nested": [1, "a,b"]},
    [1, 2],
    [],
    {},
]
#: Call columns with no typed table column behind them: any JSON value can be stored there.
FREE_CALL_FIELDS = ("mid", "totalDuration")


def _app(stores: Stores) -> str:
    return stores.tenants.create_app(new_app_settings("Exports", f"t-{secrets.token_hex(6)}")).app_id


def _call(index: int, **fields: Any) -> dict[str, Any]:
    return {
        "sessionId": f"v1.us.exports.{index:06d}",
        "initiatedAt": 1_770_000_000 + index,
        "status": "ended",
        "type": "audio",
        "receiverType": "group",
        "initiator": f"user-{index}",
        "receiver": "team",
        "hasRecording": index % 2 == 0,
        "totalAudioMinutes": 1.5,
        "participants": [{"uid": f"user-{index}", "isJoined": True, "mid": "inner"}],
        **fields,
    }


def _calls() -> list[dict[str, Any]]:
    calls = [_call(index, mid=f"m-{index}", totalDuration="00:01:30") for index in range(40)]
    for offset, value in enumerate(AWKWARD):
        for field in FREE_CALL_FIELDS:
            calls.append(_call(len(calls), **{field: value}))
        if isinstance(value, str) and "\u0000" not in value:  # text columns hold no NUL on PostgreSQL
            calls.append(_call(len(calls), initiator=value, receiver=value))
        if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1e6:
            calls.append(_call(len(calls), totalAudioMinutes=value, totalDurationInMinutes=value))
        calls.append(_call(len(calls), endedAt=None, startedAt=None, totalDuration=None, offset=offset))
    # Keys after the participants (an imported record's order), or missing altogether.
    calls.append({**_call(len(calls)), "mid": "after-the-list", "recordings": [{"rid": "r"}], "type": "video"})
    calls.append({key: value for key, value in _call(len(calls)).items() if key not in ("mode", "hasRecording")})
    return calls


def _export(cursor: ExportCursor, kind: str, values: bool) -> bytes:
    described = KINDS[kind]
    parts = [FORMATS["csv"].header(described.columns)]
    try:
        while not cursor.done:
            page = cursor.next_page()
            if values:
                parts.append(encode_page("csv", kind, page))
            else:
                parts.append(FORMATS["csv"].page(described.rows(page), described.columns))
    finally:
        cursor.close()
    return b"".join(parts)


@pytest.mark.parametrize("page_rows", [7, 1000])
def test_call_values_give_the_bytes_of_whole_records(stores: Stores, page_rows: int) -> None:
    app_id = _app(stores)
    stores.sessions.put_records(app_id, _calls())
    paths = value_paths("csv", "calls")
    assert paths is not None
    expected = _export(stores.exports.calls(app_id, CallQuery(), page_rows), "calls", values=False)
    assert _export(stores.exports.calls(app_id, CallQuery(), page_rows, paths=paths), "calls", values=True) == expected
    assert expected.count(b"\r\n") > len(_calls())  # some cells hold line ends


def test_call_values_of_a_filtered_export(stores: Stores) -> None:
    app_id = _app(stores)
    stores.sessions.put_records(app_id, _calls())
    paths = value_paths("csv", "calls")
    query = CallQuery().where("initiated_at", "gte", 1_770_000_050)
    with_values = _export(stores.exports.calls(app_id, query, 9, paths=paths), "calls", values=True)
    assert with_values == _export(stores.exports.calls(app_id, query, 9), "calls", values=False)


def _voice(channel: str, index: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.UUID(int=index + 1)),
        "channelId": channel,
        "direction": "outgoing",
        "status": "completed",
        "type": "voice",
        "from": "+31612345678",
        "to": "+31687654321",
        "duration": 12,
        "createdAt": f"2026-03-01T10:{index // 60:02d}:{index % 60:02d}Z",
        "updatedAt": "2026-03-01T11:00:00Z",
        "qualityInsights": {"mos": "4.40", "pdd": "1.20"},
        **fields,
    }


def test_voice_values_give_the_bytes_of_whole_records(stores: Stores) -> None:
    app_id = _app(stores)
    channel = stores.voice.create_channel(app_id, new_channel_settings("Line", str(uuid.uuid4()))).channel_id
    records = [_voice(channel, index) for index in range(20)]
    for value in AWKWARD:
        records.append(_voice(channel, len(records), reason=value, hangupSource=value))
        records.append(_voice(channel, len(records), qualityInsights={"mos": value}))
    records.append(_voice(channel, len(records), qualityInsights=None))
    records.append(_voice(channel, len(records), qualityInsights="not an object"))
    stores.voice.put_records(app_id, channel, records)
    paths = value_paths("csv", "voice")
    every = ChannelCallQuery(scope=channel)
    with_values = _export(stores.exports.voice(app_id, every, 11, paths=paths), "voice", values=True)
    assert with_values == _export(stores.exports.voice(app_id, every, 11), "voice", values=False)
    assert with_values.count(b"\r\n") > len(records)
    # Several statuses: a page merged from one branch per status.
    some = ChannelCallQuery(channels=(channel,), statuses=("completed", "busy"))
    with_values = _export(stores.exports.voice(app_id, some, 11, paths=paths), "voice", values=True)
    assert with_values == _export(stores.exports.voice(app_id, some, 11), "voice", values=False)


def test_calls_keep_their_scalars_and_the_migration_fills_them_in(stores: Stores) -> None:
    """A CSV export reads each call's stored scalars (``calls.scalars``): as the writers keep them,
    as ``m0017`` reads them from the records, and (a row without them) from the record itself."""
    app_id = _app(stores)
    stores.sessions.put_records(app_id, _calls())
    paths = value_paths("csv", "calls")
    expected = _export(stores.exports.calls(app_id, CallQuery(), 1000), "calls", values=False)

    def exported() -> bytes:
        return _export(stores.exports.calls(app_id, CallQuery(), 1000, paths=paths), "calls", values=True)

    assert exported() == expected
    dialect = stores.db.dialect
    _, fill = m0017_call_scalars.statements(dialect)
    for change in (f"{fill} WHERE app_id = ?", "UPDATE calls SET scalars = NULL WHERE app_id = ?"):
        with stores.db.write() as conn:
            conn.execute(change, [app_id])
        assert exported() == expected, change
    # Read, not recomputed: what the column holds is what the export shows.
    with stores.db.write() as conn:
        conn.execute("UPDATE calls SET scalars = ? WHERE app_id = ?", [orjson.dumps(["x", *[None] * 16]), app_id])
    assert exported().count(b"\r\nx,,") == len(_calls())
