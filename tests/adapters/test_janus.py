"""The Janus adapter: event handler POSTs → facts → room occupancies → native events → records.

Three layers of tests:

* against a real Janus (``e2e``/``slow``, see tests/adapters/janus_server.py): a VideoRoom room
  and an AudioBridge room are each used for two calls, participants leave in every way Janus
  knows (``leave``, detaching the handle, destroying the session, a session timing out, being
  kicked, the room being destroyed), and the calls derived from what the event handler sent
  must match what was done, with times within a second of the API calls;
* the same checks on a real capture saved in tests/fixtures/janus/ (no Janus needed), including
  order independence: shuffled, redelivered and regrouped events give the same calls;
* synthetic events for the rules (pairing, grouping, destroyed rooms, ids) and for validation.

``JANUS_CAPTURE_FIXTURE=1 pytest tests/adapters/test_janus.py -m e2e`` refreshes the capture.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import random
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calltrail.adapters.base import HookRequest
from calltrail.adapters.janus import (
    ADAPTER,
    JanusFact,
    RoomKey,
    native_events,
    occupancies,
    parse,
    read_batch,
    session_id,
)
from calltrail.kernel.errors import InvalidRequest
from calltrail.sessions.events import parse_batch
from calltrail.sessions.fold import derive_record
from tests.adapters.janus_server import Handle, Janus, JanusApi, running_janus

FIXTURE = Path(__file__).parents[1] / "fixtures" / "janus" / "sampleevh-capture.json"
#: How far a derived time may be from the window recorded around the API call that caused it.
TOLERANCE_S = 1.0
SESSION_TIMEOUT_S = 3
SECRET = "room-secret"


# --- the pipeline, as the engine will run it -------------------------------------------------------


def records_from(bodies: list[bytes]) -> dict[str, dict[str, Any]]:
    """Every call the POST bodies describe, as Get Call records keyed by session id."""
    facts = [fact for body in bodies for fact in parse(body)]
    records = {}
    for occupancy in occupancies(facts):
        record = derive_record(occupancy.session_id, parse_batch(native_events(occupancy)))
        assert record is not None
        records[occupancy.session_id] = record
    return records


def regrouped(bodies: list[bytes], seed: int) -> list[bytes]:
    """The same events, shuffled, one of them delivered twice, in POSTs of 1 to 7 events
    (a single event sometimes sent as a bare object, as with ``grouping = false``)."""
    rng = random.Random(seed)
    events = [event for body in bodies for event in _flat(json.loads(body))]
    events.append(rng.choice(events))
    rng.shuffle(events)
    out = []
    while events:
        size = rng.randint(1, 7)
        chunk, events = events[:size], events[size:]
        out.append(orjson.dumps(chunk[0] if len(chunk) == 1 and rng.random() < 0.5 else chunk))
    return out


def _flat(decoded: Any) -> list[dict[str, Any]]:
    return decoded if isinstance(decoded, list) else [decoded]


# --- what a scenario did, to compare the calls with -------------------------------------------


@dataclass
class Presence:
    """One participant as driven: its display (None: none given), feed id, and the windows of
    real time (Unix seconds) around the calls that made it join and leave."""

    display: str | None
    feed: str
    joined: tuple[float, float]
    left: tuple[float, float] = (0.0, 0.0)
    how: str = ""


@dataclass
class ExpectedCall:
    plugin: str
    room: str
    presences: list[Presence] = field(default_factory=list)


def check_calls(records: dict[str, dict[str, Any]], expected: list[ExpectedCall]) -> None:
    """The records are exactly the expected calls, with the right participants and times."""
    assert len(records) == len(expected), sorted(records)
    by_device = {p["deviceId"]: record for record in records.values() for p in record["participants"]}
    matched = [by_device[call.presences[0].feed] for call in expected]
    assert len({record["sessionId"] for record in matched}) == len(expected)
    for record, call in zip(matched, expected, strict=True):
        _check_record(record, call)


def _check_record(record: dict[str, Any], call: ExpectedCall) -> None:
    first = call.presences[0]
    assert record["sessionId"].startswith(f"janus-{call.plugin}-{call.room}-")
    assert (record["receiver"], record["type"]) == (call.room, "video" if call.plugin == "videoroom" else "audio")
    assert (record["status"], record["mode"], record["receiverType"]) == ("ended", "meet", "group")
    assert record["initiator"] == (first.display or first.feed)
    assert [(p["uid"], p["deviceId"]) for p in record["participants"]] == [
        (p.display or p.feed, p.feed) for p in call.presences
    ]
    for participant, presence in zip(record["participants"], call.presences, strict=True):
        assert participant["isJoined"] and participant["state"] == "ended"
        _within(participant["joinedAt"], presence.joined, f"{presence.display} joined")
        _within(participant["leftAt"], presence.left, f"{presence.display} left ({presence.how})")
    _within(record["startedAt"], first.joined, "call started")
    _within(record["endedAt"], max((p.left for p in call.presences), key=lambda w: w[1]), "call ended")


def _within(at: float, window: tuple[float, float], what: str) -> None:
    # Records show whole seconds, floored: compare with the floored window.
    assert int(window[0]) - TOLERANCE_S <= at <= window[1] + TOLERANCE_S, f"{what}: {at} not in {window}"


def check_stints(bodies: list[bytes], expected: list[ExpectedCall]) -> None:
    """At Janus' microsecond precision, each stint lies within its recorded windows."""
    facts = [fact for body in bodies for fact in parse(body)]
    stints = {stint.feed_id: stint for occupancy in occupancies(facts) for stint in occupancy.stints}
    for call in expected:
        for presence in call.presences:
            stint = stints[presence.feed]
            assert stint.left_us is not None
            for at_us, window in ((stint.joined_us, presence.joined), (stint.left_us, presence.left)):
                assert window[0] - TOLERANCE_S <= at_us / 1e6 <= window[1] + TOLERANCE_S, (presence, at_us)


# --- driving a real Janus ---------------------------------------------------------------------------


class Scenario:
    """Drives rooms through Janus' HTTP API, recording the real time around each step."""

    def __init__(self, janus: Janus, api: JanusApi) -> None:
        self.janus = janus
        self.api = api
        self.calls: list[ExpectedCall] = []
        #: Rooms left to destroy at the end, with the handle that created them.
        self.rooms: list[tuple[Handle, int]] = []

    def admin(self, plugin: str, room: int) -> Handle:
        handle = self.api.create_session().attach(plugin)
        body = {"request": "create", "room": room, "secret": SECRET}
        if plugin.endswith("audiobridge"):
            body["sampling_rate"] = 16000
        handle.request(body)
        self.rooms.append((handle, room))
        return handle

    def join(self, plugin: str, room: int, display: str | None) -> tuple[Handle, Presence]:
        handle = self.api.create_session().attach(plugin)
        body: dict[str, Any] = {"request": "join", "room": room}
        if plugin.endswith("videoroom"):
            body["ptype"] = "publisher"
        if display is not None:
            body["display"] = display
        before = time.time()
        key = plugin.rsplit(".", 1)[-1]
        data = handle.async_request(body, lambda d: d.get(key) == "joined" and "id" in d)
        presence = Presence(display, str(data["id"]), (before, time.time()))
        self.calls[-1].presences.append(presence)
        return handle, presence

    @staticmethod
    def timed(presence: Presence, how: str, action: Any) -> None:
        before = time.time()
        action()
        presence.left, presence.how = (before, time.time()), how


def drive_videoroom(scenario: Scenario, room: int, waits: Waits) -> Presence:
    """Call 1: alice and bob; alice sends ``leave``, bob detaches his handle. Call 2: carol, a
    publisher without a display name, and dave; carol destroys her session, the nameless one is
    kicked, and dave's client vanishes: Janus times his session out. Returns dave's presence,
    whose leave is only known once the timeout fired."""
    plugin = "janus.plugin.videoroom"
    admin = scenario.admin(plugin, room)
    scenario.calls.append(ExpectedCall("videoroom", str(room)))
    alice, alice_p = scenario.join(plugin, room, "alice")
    bob, bob_p = scenario.join(plugin, room, "bob")
    scenario.timed(
        alice_p, "leave", lambda: alice.async_request({"request": "leave"}, lambda d: d.get("leaving") == "ok")
    )
    scenario.timed(bob_p, "detach", bob.detach)
    # Janus reports a detached handle's leave after the detach returns: on a loaded machine carol
    # joined first once, and the two calls were one (the room never emptied in Janus's own times).
    for gone in (alice_p, bob_p):
        waits.left(gone.feed, timeout=10)

    scenario.calls.append(ExpectedCall("videoroom", str(room)))
    carol, carol_p = scenario.join(plugin, room, "carol")
    _anon, anon_p = scenario.join(plugin, room, None)
    dave, dave_p = scenario.join(plugin, room, "dave")
    scenario.timed(carol_p, "session destroyed", carol.session.destroy)
    kick = {"request": "kick", "room": room, "secret": SECRET, "id": int(anon_p.feed)}
    scenario.timed(anon_p, "kicked", lambda: admin.request(kick))
    # Janus drops a session it heard nothing from for SESSION_TIMEOUT_S; the last keepalive
    # may have been up to half a second before this.
    dave.session.drop()
    dave_p.left, dave_p.how = (time.time() - 0.5 + SESSION_TIMEOUT_S, 0.0), "session timeout"
    return dave_p


def drive_audiobridge(scenario: Scenario, room: int) -> None:
    """Call 1: frank and gina; frank sends ``leave``, gina is kicked. Call 2: hank and ivy; hank
    destroys his session, then the room is destroyed with ivy still in it."""
    plugin = "janus.plugin.audiobridge"
    admin = scenario.admin(plugin, room)
    scenario.calls.append(ExpectedCall("audiobridge", str(room)))
    frank, frank_p = scenario.join(plugin, room, "frank")
    _gina, gina_p = scenario.join(plugin, room, "gina")
    left = lambda d: d.get("audiobridge") == "left"  # noqa: E731 - a one-line predicate
    scenario.timed(frank_p, "leave", lambda: frank.async_request({"request": "leave"}, left))
    kick = {"request": "kick", "room": room, "secret": SECRET, "id": int(gina_p.feed)}
    scenario.timed(gina_p, "kicked", lambda: admin.request(kick))

    scenario.calls.append(ExpectedCall("audiobridge", str(room)))
    hank, hank_p = scenario.join(plugin, room, "hank")
    _ivy, ivy_p = scenario.join(plugin, room, "ivy")
    scenario.timed(hank_p, "session destroyed", hank.session.destroy)
    destroy = {"request": "destroy", "room": room, "secret": SECRET}
    scenario.timed(ivy_p, "room destroyed", lambda: admin.request(destroy))
    scenario.rooms.remove((admin, room))


def _plugin_events(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in events if e.get("type") == 64 and e["event"]["data"].get("event") == name]


class Waits:
    """How a scenario learns that Janus has reported something: from the local receiver by
    default; a test posting to a real Calltrail waits on what Calltrail stored instead."""

    def __init__(self, janus: Janus) -> None:
        self.janus = janus

    def left(self, feed: str, timeout: float) -> None:
        left = lambda evs: any(e["event"]["data"]["id"] == int(feed) for e in _plugin_events(evs, "leaving"))  # noqa: E731
        self.janus.receiver.wait_for(left, timeout=timeout)

    def destroyed(self, rooms: int, timeout: float) -> None:
        self.janus.receiver.wait_for(lambda evs: len(_plugin_events(evs, "destroyed")) == rooms, timeout=timeout)


def run_scenario(janus: Janus, waits: Waits | None = None) -> list[ExpectedCall]:
    waits = waits or Waits(janus)
    api = JanusApi(janus.api_url)
    try:
        scenario = Scenario(janus, api)
        video_room, audio_room = 1000 + secrets.randbelow(10**6), 2000000 + secrets.randbelow(10**6)
        dave = drive_videoroom(scenario, video_room, waits)
        # The AudioBridge rooms run while Janus counts down dave's session timeout.
        drive_audiobridge(scenario, audio_room)
        waits.left(dave.feed, timeout=SESSION_TIMEOUT_S + 15)
        dave.left = (dave.left[0], time.time())
        for admin, room in scenario.rooms:
            admin.request({"request": "destroy", "room": room, "secret": SECRET})
        # Everything up to the last room's destruction has been sent once it arrives.
        waits.destroyed(2, timeout=10)
    finally:
        api.close()
    return scenario.calls


@pytest.fixture
def janus(tmp_path: Path) -> Iterator[Janus]:
    with running_janus(tmp_path, session_timeout=SESSION_TIMEOUT_S) as server:
        yield server


def _janus_version() -> str:
    out = subprocess.run(["janus", "--version"], capture_output=True, text=True, timeout=10, check=False).stdout
    return next((line.split("(")[-1].rstrip(")") for line in out.splitlines() if "version" in line.lower()), "?")


@pytest.mark.e2e
@pytest.mark.slow
def test_real_janus_rooms_become_calls(janus: Janus) -> None:
    expected = run_scenario(janus)
    posts = janus.receiver.posts
    assert posts and all(p.authorized and p.content_type == "application/json" for p in posts)
    bodies = janus.receiver.bodies()

    records = records_from(bodies)
    check_calls(records, expected)
    check_stints(bodies, expected)
    for seed in range(3):
        assert records_from(regrouped(bodies, seed)) == records

    if os.environ.get("JANUS_CAPTURE_FIXTURE"):
        FIXTURE.parent.mkdir(parents=True, exist_ok=True)
        capture = {
            "janus": _janus_version(),
            "about": "POST bodies Janus' sampleevh sent during test_real_janus_rooms_become_calls, and what was done",
            "posts": [body.decode() for body in bodies],
            "calls": [asdict(call) for call in expected],
        }
        FIXTURE.write_text(json.dumps(capture, indent=1) + "\n")


# --- the saved capture -------------------------------------------------------------------------------


def load_capture() -> tuple[list[bytes], list[ExpectedCall]]:
    capture = json.loads(FIXTURE.read_text())
    calls = [
        ExpectedCall(
            call["plugin"],
            call["room"],
            [
                Presence(p["display"], p["feed"], tuple(p["joined"]), tuple(p["left"]), p["how"])
                for p in call["presences"]
            ],
        )
        for call in capture["calls"]
    ]
    return [post.encode() for post in capture["posts"]], calls


def test_captured_events_become_the_calls_that_were_made() -> None:
    bodies, expected = load_capture()
    records = records_from(bodies)
    check_calls(records, expected)
    check_stints(bodies, expected)
    # Two calls per room: the rooms were reused.
    assert sorted(sid.rsplit("-", 1)[0] for sid in records) == sorted(
        f"janus-{call.plugin}-{call.room}" for call in expected
    )


def test_captured_events_count_what_is_not_used_as_ignored() -> None:
    bodies, _ = load_capture()
    batches = [read_batch(body) for body in bodies]
    events = [event for body in bodies for event in _flat(json.loads(body))]
    assert sum(len(b.facts) + b.ignored for b in batches) == len(events)
    used = [e for e in events if e["type"] == 64 and e["event"]["data"].get("event") in USED]
    assert sum(len(b.facts) for b in batches) == len(used)
    # Sessions and handles were subscribed to, and are ignored.
    assert {e["type"] for e in events} >= {1, 2, 64}


USED = {"joined", "leaving", "kicked", "left", "destroyed"}


@pytest.mark.parametrize("seed", range(8))
def test_captured_events_in_any_order_and_grouping_give_the_same_calls(seed: int) -> None:
    bodies, _ = load_capture()
    assert records_from(regrouped(bodies, seed)) == records_from(bodies)


_CAPTURED = [event for body in (load_capture()[0] if FIXTURE.exists() else []) for event in _flat(json.loads(body))]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(order=st.permutations(_CAPTURED), repeats=st.lists(st.sampled_from(_CAPTURED), max_size=5))
def test_any_permutation_of_a_reused_room_gives_the_same_calls(order: list[Any], repeats: list[Any]) -> None:
    expected = records_from([orjson.dumps(_CAPTURED)])
    assert records_from([orjson.dumps(order + repeats)]) == expected


# --- synthetic events: the rules ---------------------------------------------------------------------

T0 = 1_780_000_000_000_000  # µs


def ev(
    name: str,
    room: object = 7,
    feed: object = None,
    at: int = 0,
    *,
    display: object = None,
    plugin: str = "janus.plugin.videoroom",
    emitter: str = "janus-1",
) -> dict[str, Any]:
    """A plugin event as Janus' event handler sends it, ``at`` seconds after T0."""
    data: dict[str, Any] = {"event": name, "room": room}
    if feed is not None:
        data["id"] = feed
    if display is not None:
        data["display"] = display
    event: dict[str, Any] = {"emitter": emitter, "type": 64, "timestamp": T0 + at * 1_000_000}
    if name in ("joined", "published"):
        event |= {"session_id": 11, "handle_id": 22}
    return event | {"event": {"plugin": plugin, "data": data}}


def calls(*events: dict[str, Any]) -> list[dict[str, Any]]:
    records = records_from([orjson.dumps(list(events))])
    return sorted(records.values(), key=lambda r: (r["receiver"], r["startedAt"]))


def spans(*events: dict[str, Any]) -> list[list[tuple[str, int, int | None]]]:
    """Per call: (uid, joined s, left s) of each participant, relative to T0."""
    base = T0 // 1_000_000
    return [
        [(p["uid"], p["joinedAt"] - base, p["leftAt"] - base if "leftAt" in p else None) for p in r["participants"]]
        for r in calls(*events)
    ]


def test_one_occupancy_is_one_call_and_a_reused_room_gives_several() -> None:
    assert spans(
        ev("joined", feed=1, at=0, display="ann"),
        ev("joined", feed=2, at=5, display="ben"),
        ev("leaving", feed=1, at=10),
        ev("joined", feed=3, at=12, display="cat"),  # ben is still there: same call
        ev("leaving", feed=2, at=20),
        ev("leaving", feed=3, at=30),
        ev("joined", feed=4, at=40, display="dan"),  # the room was empty: a new call
        ev("kicked", feed=4, at=50),
    ) == [[("ann", 0, 10), ("ben", 5, 20), ("cat", 12, 30)], [("dan", 40, 50)]]


def test_a_join_at_the_instant_of_the_last_leave_keeps_the_call_going() -> None:
    assert len(calls(ev("joined", feed=1, at=0), ev("leaving", feed=1, at=5), ev("joined", feed=2, at=5))) == 1


def test_the_session_id_is_the_room_and_the_first_join() -> None:
    (record,) = calls(ev("joined", feed=9, at=3, display="ann"), ev("leaving", feed=9, at=4))
    assert record["sessionId"] == f"janus-videoroom-7-{T0 + 3_000_000}"
    digest = hashlib.sha256(b"room 1/2").hexdigest()[:24]
    assert session_id(RoomKey("x", "audiobridge", "room 1/2"), 5) == f"janus-audiobridge-h{digest}-5"


def test_a_call_is_initiated_by_its_first_joiner_to_the_room() -> None:
    (record,) = calls(
        ev("joined", feed=2, at=1, display="ben", plugin="janus.plugin.audiobridge"),
        ev("joined", feed=1, at=0, display="ann", plugin="janus.plugin.audiobridge"),
        ev("left", feed=1, at=2, display="ann", plugin="janus.plugin.audiobridge"),
        ev("left", feed=2, at=3, display="ben", plugin="janus.plugin.audiobridge"),
    )
    assert (record["initiator"], record["receiver"], record["receiverType"], record["mode"], record["type"]) == (
        "ann",
        "7",
        "group",
        "meet",
        "audio",
    )
    assert record["status"] == "ended" and record["endedAt"] - record["startedAt"] == 3


def test_without_a_display_the_uid_is_the_feed_id_and_published_names_it() -> None:
    (record,) = calls(
        ev("joined", feed=42, at=0), ev("joined", feed=43, at=0), ev("published", feed=43, at=1, display="zoe")
    )
    assert [(p["uid"], p["deviceId"]) for p in record["participants"]] == [("42", "42"), ("zoe", "43")]
    assert record["status"] == "ongoing"


def test_display_names_become_valid_uids() -> None:
    (record,) = calls(ev("joined", feed=1, display="Ann Lee/50%"), ev("leaving", feed=1, at=1))
    assert record["participants"][0]["uid"] == "Ann_Lee_50_"


def test_a_destroyed_room_ends_the_call_of_everyone_still_in_it() -> None:
    assert spans(
        ev("joined", feed=1, at=0, display="ann"),
        ev("joined", feed=2, at=1, display="ben"),
        ev("destroyed", at=9),
        ev("joined", feed=3, at=20, display="cat"),  # a new room with the same id
        ev("leaving", feed=3, at=21),
    ) == [[("ann", 0, 9), ("ben", 1, 9)], [("cat", 20, 21)]]


def test_repeated_joins_and_leaves_change_nothing() -> None:
    assert spans(
        ev("joined", feed=1, at=0, display="ann"),
        ev("published", feed=1, at=1, display="ann"),
        ev("leaving", feed=2, at=2),  # never joined
        ev("kicked", feed=1, at=3),
        ev("leaving", feed=1, at=3),  # the leave Janus sends after a kick
        ev("unpublished", feed=1, at=2),  # not a leave
    ) == [[("ann", 0, 3)]]


def test_a_feed_that_comes_back_is_one_participant_with_two_stints() -> None:
    (record,) = calls(
        ev("joined", feed=1, at=0, display="ann"),
        ev("joined", feed=2, at=0, display="ben"),
        ev("leaving", feed=1, at=10),
        ev("joined", feed=1, at=20, display="ann"),
        ev("leaving", feed=1, at=30),
        ev("leaving", feed=2, at=60),
    )
    ann = record["participants"][0]
    assert (ann["uid"], ann["joinedAt"] - T0 // 10**6, ann["leftAt"] - T0 // 10**6) == ("ann", 0, 30)
    assert ann["totalDuration"] == pytest.approx(20 / 60, abs=1e-3)


def test_a_call_still_going_has_no_end_until_everyone_left() -> None:
    joined = [ev("joined", feed=1, at=0, display="ann"), ev("joined", feed=2, at=1, display="ben")]
    (ongoing,) = calls(*joined, ev("leaving", feed=1, at=5))
    assert ongoing["status"] == "ongoing" and ongoing.get("endedAt") is None
    assert [p["state"] for p in ongoing["participants"]] == ["ended", "ongoing"]
    (ended,) = calls(*joined, ev("leaving", feed=1, at=5), ev("leaving", feed=2, at=8))
    assert ended["status"] == "ended" and ended["endedAt"] - ended["startedAt"] == 8


def test_a_late_fact_can_merge_two_calls_into_one() -> None:
    before = [
        ev("joined", feed=1, at=0),
        ev("leaving", feed=1, at=5),
        ev("joined", feed=2, at=10),
        ev("leaving", feed=2, at=15),
    ]
    assert len(calls(*before)) == 2
    (merged,) = calls(*before, ev("joined", feed=3, at=4), ev("leaving", feed=3, at=11))
    assert len(merged["participants"]) == 3


def test_rooms_are_told_apart_by_plugin_and_server() -> None:
    records = calls(
        ev("joined", feed=1, at=0),
        ev("joined", feed=1, at=0, plugin="janus.plugin.audiobridge"),
        ev("joined", feed=1, at=1, emitter="janus-2"),
    )
    assert len(records) == 3
    # Servers are not in the session id: two servers' rooms with one id would need a first join
    # in the very same microsecond to collide (documented).
    facts = parse(orjson.dumps([ev("joined", feed=1), ev("joined", feed=1, emitter="janus-2")]))
    assert len(occupancies(facts)) == 2


def test_control_characters_never_reach_native_events() -> None:
    (record,) = calls(
        ev("joined", room="r", feed="f\x01\x85", display="a\tb"), ev("leaving", room="r", feed="f\x01\x85", at=1)
    )
    assert [(p["uid"], p["deviceId"]) for p in record["participants"]] == [("a_b", "f__")]


def test_string_room_ids_are_supported() -> None:
    (record,) = calls(
        ev("joined", room="team design", feed="u-1", at=0, display="ann"),
        ev("leaving", room="team design", feed="u-1", at=1),
    )
    assert record["receiver"] == "team_design"
    assert record["sessionId"].startswith("janus-videoroom-h")


def test_facts_round_trip_through_their_stored_shape() -> None:
    facts = parse(
        orjson.dumps([ev("joined", room="a@b:c", feed=1, at=0, display="ann", emitter="x@y"), ev("destroyed", at=1)])
    )
    stored = [fact.to_dict() for fact in facts]
    assert [JanusFact.from_dict(raw) for raw in stored] == facts
    assert stored[0]["room"] == "videoroom:a%40b%3Ac@x%40y" and stored[1]["feedId"] is None
    with pytest.raises(ValueError):
        JanusFact.from_dict({"id": "x", "room": "sip:1@a", "kind": "join", "atUs": 1})


def test_event_keys_are_stable_and_distinct() -> None:
    first = parse(orjson.dumps(ev("joined", feed=1, at=0)))
    assert parse(orjson.dumps(ev("joined", feed=1, at=0))) == first
    assert parse(orjson.dumps(ev("joined", feed=1, at=1)))[0].event_key != first[0].event_key
    # The key does not depend on how the JSON was written.
    assert parse(json.dumps(ev("joined", feed=1, at=0), indent=3).encode()) == first


def test_native_events_are_valid_and_deterministic() -> None:
    facts = parse(orjson.dumps([ev("joined", feed=1, at=0, display="ann"), ev("leaving", feed=1, at=2)]))
    (occupancy,) = occupancies(facts)
    events = native_events(occupancy)
    assert [e["type"] for e in events] == [
        "call.initiated",
        "call.started",
        "participant.joined",
        "participant.left",
        "call.ended",
    ]
    assert len(parse_batch(events)) == 5 and native_events(occupancies(reversed(facts))[0]) == events
    assert len({e["id"] for e in events}) == 5


# --- the adapter object and validation --------------------------------------------------------------


def test_the_adapter_translates_a_post_into_room_facts() -> None:
    assert (ADAPTER.provider, ADAPTER.domain, ADAPTER.auth) == ("janus", "sessions", "basic")
    session_event = {"emitter": "j", "type": 1, "timestamp": T0, "session_id": 1, "event": {"name": "created"}}
    other_plugin = ev("joined", feed=1, plugin="janus.plugin.textroom")
    body = orjson.dumps([session_event, ev("joined", feed=1, display="ann"), ev("created"), other_plugin])
    translation = ADAPTER.translate(HookRequest("http://x/hooks/1", {"content-type": "application/json"}, body))
    assert translation.ignored == 3
    (fact,) = translation.events
    assert fact["room"] == "videoroom:7@janus-1" and (fact["kind"], fact["feedId"], fact["display"]) == (
        "join",
        "1",
        "ann",
    )
    assert fact["atUs"] == T0 and fact["id"].startswith("janus-")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'[{"type": 64, "timestamp": 1', "body"),
        (b"42", "body"),
        (b"[]", "body"),
        (gzip.compress(b"[]", mtime=0), "body"),
        (b"[1]", "events[0]"),
        (b'{"timestamp": 1}', "events[0].type"),
        (orjson.dumps([ev("created"), {**ev("joined", feed=1), "timestamp": "soon"}]), "events[1].timestamp"),
        (orjson.dumps({**ev("joined", feed=1), "event": {"plugin": "janus.plugin.videoroom"}}), "events[0].event"),
        (orjson.dumps(ev("joined", room=None, feed=1)), "events[0].event.data.room"),
        (orjson.dumps(ev("leaving", feed=True)), "events[0].event.data.id"),
        (orjson.dumps(ev("joined", feed=1, display=5)), "events[0].event.data.display"),
    ],
)
def test_malformed_payloads_name_what_is_wrong(body: bytes, field: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse(body)
    assert field in info.value.details, info.value.details


def test_one_bad_event_rejects_the_whole_post() -> None:
    with pytest.raises(InvalidRequest) as info:
        parse(orjson.dumps([ev("joined", feed=1), ev("leaving", feed=None), {**ev("joined", feed=2), "timestamp": 0}]))
    assert set(info.value.details) == {"events[1].event.data.id", "events[2].timestamp"}
