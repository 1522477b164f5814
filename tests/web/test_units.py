"""The dashboard's pure parts: session cookies, form rewriting, timeline and chart geometry."""

from __future__ import annotations

from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import pytest

from calltrail.kernel.errors import InvalidRequest
from calltrail.web import forms, sessions
from calltrail.web.charts import nice_step, stacked
from calltrail.web.timeline import TRACK_WIDTH, TRACK_X, call_timeline, phone_timeline

SECRET = b"k" * 32
UTC = ZoneInfo("UTC")


def test_session_round_trip_and_tampering() -> None:
    session = sessions.new_session(1_000_000, "app", "ab" * 32)
    cookie = sessions.encode(session, SECRET)
    assert sessions.decode(cookie, SECRET, 1_000_010) == session
    payload, mac = cookie.split(".")
    forged_payload = sessions.encode(sessions.Session(session.nonce, 1_000_000, "other", "cd" * 32), b"x").split(".")[0]
    for bad in (f"{forged_payload}.{mac}", f"{payload}.{mac[:-2]}AA", "", "a.b.c", "x" * 2000, f"{payload}."):
        assert sessions.decode(bad, SECRET, 1_000_010) is None, bad
    assert sessions.decode(cookie, SECRET, 1_000_000 + sessions.IDLE_SECONDS + 1) is None  # idle


def test_csrf_tokens_are_bound_to_the_session() -> None:
    one, two = sessions.new_session(1), sessions.new_session(1)
    token = sessions.csrf_token(one, SECRET)
    assert sessions.csrf_valid(one, token, SECRET)
    assert not sessions.csrf_valid(two, token, SECRET)
    assert not sessions.csrf_valid(one, token, b"another key")
    assert not sessions.csrf_valid(None, token, SECRET)
    assert not sessions.csrf_valid(one, "", SECRET)


def test_form_days_become_instants_in_the_zone() -> None:
    items = [("status", ""), ("from", "2026-03-29"), ("to", "2026-03-29"), ("uid", "ann")]
    assert forms.needs_rewrite(items, forms.CALL_DATES)
    query = parse_qsl(forms.canonical(items, forms.CALL_DATES, ZoneInfo("Europe/Amsterdam")))
    # 29 March 2026 is the day the clocks go forward in Amsterdam: it lasts 23 hours.
    assert query == [("initiatedAt[gte]", "1774738800"), ("initiatedAt[lt]", "1774821600"), ("uid", "ann")]
    voice = parse_qsl(forms.canonical([("fromDate", "2026-01-01")], forms.VOICE_DATES, UTC))
    assert voice == [("startAt", "2026-01-01T00:00:00.000Z")]
    assert not forms.needs_rewrite([("status", "ended")], forms.CALL_DATES)
    with pytest.raises(InvalidRequest) as raised:
        forms.canonical([("to", "31/12/2026")], forms.CALL_DATES, UTC)
    assert set(raised.value.details) == {"to"}


def test_zone_falls_back_to_utc() -> None:
    assert forms.zone("Asia/Kolkata").key == "Asia/Kolkata"
    for bad in (None, "", "Mars/Base", "../../etc/passwd", "A" * 200):
        assert forms.zone(bad).key == "UTC"


def test_call_timeline_geometry() -> None:
    record = {
        "initiatedAt": 1000,
        "endedAt": 1100,
        "status": "ended",
        "participants": [
            {"uid": "ann", "deviceId": "ann-web", "joinedAt": 1000, "leftAt": 1100},
            {"uid": "ben", "joinedAt": 1050, "leftAt": 1075},
            {"uid": "cy", "state": "unanswered"},
        ],
        "recordings": [{"rid": "r1", "startTime": 1000, "endTime": 1050}],
    }
    drawn = call_timeline(record, [(1025.0, "video")], UTC, now=5000)
    ann, ben, cy = drawn.rows
    assert ann.bars[0].x == TRACK_X and ann.bars[0].width == TRACK_WIDTH
    assert ben.bars[0].x == TRACK_X + TRACK_WIDTH / 2 and ben.bars[0].width == TRACK_WIDTH / 4
    assert ben.bars[0].label == "ben: joined 00:17:30, left 00:17:55"
    assert cy.bars == () and cy.note == "unanswered"
    assert drawn.bands[0].bars[0].label == "recording r1: 00:16:40 to 00:17:30"
    assert drawn.markers[0].x == TRACK_X + TRACK_WIDTH / 4 and drawn.markers[0].label.startswith("switched to video")


def test_ongoing_call_bars_run_to_now() -> None:
    record = {"initiatedAt": 0, "status": "ongoing", "participants": [{"uid": "ann", "joinedAt": 0}]}
    bar = call_timeline(record, [], UTC, now=100).rows[0].bars[0]
    assert bar.width == TRACK_WIDTH and bar.label == "ann: joined 00:00:00, still in the call"


def test_phone_timeline_phases() -> None:
    legs = [("this call", "+31", {"createdAt": 0, "ringingAt": 10, "answeredAt": 20, "endedAt": 100})]
    setup, ringing, answered = phone_timeline(legs, UTC, now=500).rows[0].bars
    assert (setup.kind, ringing.kind, answered.kind) == ("setup", "ringing", "answered")
    assert answered.label == "this call: answered 00:00:20 to 00:01:40"
    assert answered.x + answered.width == pytest.approx(TRACK_X + TRACK_WIDTH, abs=0.2)


def test_charts() -> None:
    assert [nice_step(v, whole=True) for v in (0, 0.3, 1.2, 3, 7, 26)] == [1, 1, 2, 5, 10, 50]
    assert nice_step(0.3, whole=False) == 0.5
    chart = stacked("t", "calls", ["d1", "d2"], [("ended", [3, 0]), ("busy", [1, 2])])
    assert [row[1:] for row in chart.table] == [(("3", "1"), "4"), (("0", "2"), "2")]
    assert len(chart.segments) == 3  # a zero draws nothing
    tallest = sum(s.height for s in chart.segments if s.x == chart.segments[0].x)
    assert tallest == pytest.approx(chart.height - 10 - 28)  # 4 calls reach the top of a 0..4 axis
