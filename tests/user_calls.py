"""A small, hand-checked call history for testing the user view and the SDK.

Each scenario is sent as native lifecycle events (so derivation and the per-user index are
exercised); one more is imported as a whole record. ``expect`` states, by hand, how the call
looks to each user: ``(direction, missed)``. Those expectations are the oracle: they are
written out, never computed with the rule under test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

BASE = 1_700_000_000
ME = "alice"


@dataclass(frozen=True)
class Scenario:
    """One call. ``outcome`` ends a call that never started; ``joined`` start it."""

    session: str
    at: int
    initiator: str
    receiver: str
    receiver_type: str = "user"
    call_type: str = "audio"
    mode: str = "call"
    invitees: tuple[str, ...] | None = None
    outcome: str | None = None
    joined: tuple[str, ...] = ()
    rejected_by: tuple[str, ...] = ()
    ended: bool = True
    recording: bool = False
    second_device: str | None = None
    expect: dict[str, tuple[str, bool]] = field(default_factory=dict)

    def events(self) -> list[dict[str, Any]]:
        s, at = self.session, self.at
        out: list[dict[str, Any]] = []

        def add(event_type: str, when: float, **fields: Any) -> None:
            out.append({"id": f"{s}.{len(out)}", "type": event_type, "sessionId": s, "at": when, **fields})

        initiated: dict[str, Any] = {
            "initiator": self.initiator,
            "receiver": self.receiver,
            "receiverType": self.receiver_type,
            "callType": self.call_type,
            "mode": self.mode,
        }
        if self.invitees is not None:
            initiated["invitees"] = list(self.invitees)
        add("call.initiated", at, **initiated)
        for uid in self.rejected_by:
            add("participant.rejected", at + 4, uid=uid)
        if self.outcome is not None:
            add(f"call.{self.outcome}", at + 10)
            return out
        if not self.joined:
            return out  # still ringing
        add("call.started", at + 5)
        for index, uid in enumerate(self.joined):
            add("participant.joined", at + 5 + index, uid=uid, deviceId=f"{uid}-phone")
        if self.second_device:
            add("participant.joined", at + 8, uid=self.second_device, deviceId=f"{self.second_device}-laptop")
        if not self.ended:
            return out
        for index, uid in enumerate(self.joined):
            add("participant.left", at + 65 + index, uid=uid, deviceId=f"{uid}-phone")
        if self.second_device:
            add("participant.left", at + 50, uid=self.second_device, deviceId=f"{self.second_device}-laptop")
        add("call.ended", at + 70)
        if self.recording:
            add("recording.ready", at + 80, rid=f"rec-{s}", startTime=at + 5, endTime=at + 70,
                recording_url=f"https://rec.example.com/{s}.mp4")  # fmt: skip
        return out


#: How a call looks to one user: ``(direction, missed)``.
OUT = ("outgoing", False)
IN = ("incoming", False)
MISSED = ("incoming", True)

SCENARIOS: tuple[Scenario, ...] = (
    Scenario("c01", BASE + 100, "alice", "bob", joined=("alice", "bob"),
             expect={"alice": OUT, "bob": IN}),
    Scenario("c02", BASE + 200, "bob", "alice", call_type="video", outcome="unanswered",
             expect={"alice": MISSED, "bob": OUT}),
    Scenario("c03", BASE + 300, "bob", "alice", outcome="cancelled",
             expect={"alice": MISSED, "bob": OUT}),
    Scenario("c04", BASE + 400, "carol", "alice", outcome="busy",
             expect={"alice": MISSED, "carol": OUT}),
    Scenario("c05", BASE + 500, "bob", "alice", outcome="rejected", rejected_by=("alice",),
             expect={"alice": IN, "bob": OUT}),
    Scenario("c06", BASE + 600, "alice", "bob", outcome="unanswered",
             expect={"alice": OUT, "bob": MISSED}),
    # A group call others answered: alice and carol never joined, so they missed it.
    Scenario("c07", BASE + 700, "dave", "team", receiver_type="group", invitees=("alice", "bob", "carol"),
             joined=("dave", "bob"),
             expect={"alice": MISSED, "bob": IN, "carol": MISSED, "dave": OUT}),
    Scenario("c08", BASE + 800, "alice", "team", receiver_type="group", invitees=("bob", "carol", "dave"),
             joined=("alice", "bob"), call_type="video",
             expect={"alice": OUT, "bob": IN, "carol": MISSED, "dave": MISSED}),
    # Nobody answered: every invitee missed it.
    Scenario("c09", BASE + 900, "bob", "team", receiver_type="group", invitees=("alice", "carol", "dave"),
             outcome="unanswered", expect={"alice": MISSED, "bob": OUT, "carol": MISSED, "dave": MISSED}),
    # Still going, alice in it.
    Scenario("c10", BASE + 1000, "carol", "team", receiver_type="group", invitees=("alice", "bob", "dave"),
             joined=("carol", "alice"), ended=False, expect={"alice": IN, "bob": IN, "carol": OUT, "dave": IN}),
    # Still ringing: not over, so not missed yet.
    Scenario("c11", BASE + 1100, "bob", "alice", expect={"alice": IN, "bob": OUT}),
    # Going on without alice: not over, so not missed yet.
    Scenario("c12", BASE + 1200, "erin", "team2", receiver_type="group", invitees=("alice", "bob"),
             joined=("erin", "bob"), ended=False, expect={"alice": IN, "bob": IN, "erin": OUT}),
    # alice declined a group call others answered: rejected, not missed.
    Scenario("c13", BASE + 1300, "dave", "team", receiver_type="group", invitees=("alice", "bob", "carol"),
             joined=("dave", "bob"), rejected_by=("alice",),
             expect={"alice": IN, "bob": IN, "carol": MISSED, "dave": OUT}),
    # Not alice's call at all.
    Scenario("c14", BASE + 1400, "bob", "carol", joined=("bob", "carol"),
             expect={"bob": OUT, "carol": IN}),
    Scenario("c15", BASE + 1500, "alice", "carol", call_type="video", joined=("alice", "carol"), recording=True,
             expect={"alice": OUT, "carol": IN}),
    Scenario("c16", BASE + 1600, "alice", "team", receiver_type="group", mode="meet", invitees=("bob", "carol"),
             joined=("alice", "bob", "carol"), recording=True, expect={"alice": OUT, "bob": IN, "carol": IN}),
    Scenario("c17", BASE + 1700, "carol", "alice", joined=("carol", "alice"), second_device="alice",
             expect={"alice": IN, "carol": OUT}),
)  # fmt: skip

#: An imported record (``PUT /v3/calls/{id}``): bob rang alice, nobody answered.
IMPORTED: dict[str, Any] = {
    "sessionId": "c18",
    "initiatedAt": BASE + 1800,
    "endedAt": BASE + 1830,
    "initiator": "bob",
    "receiver": "alice",
    "receiverType": "user",
    "type": "audio",
    "mode": "call",
    "status": "unanswered",
    "hasRecording": False,
    "totalAudioMinutes": 0,
    "totalVideoMinutes": 0,
    "totalDurationInMinutes": 0,
    "totalDuration": "00:00:00",
    "totalParticipants": 0,
    "participants": [{"uid": "alice", "isJoined": False, "state": "unanswered"}],
    "metaData": {"ticket": "T-1"},
    "tags": ["imported"],
}
IMPORTED_EXPECT = {"alice": MISSED, "bob": OUT}

#: Stored profiles; dave and team2 have none.
USERS = {
    "alice": ("Alice Archer", "https://img.example.com/alice.png"),
    "bob": ("Bob Baker", "https://img.example.com/bob.png"),
    "carol": ("Carol Cole", None),
    "erin": ("Erin Eve", "https://img.example.com/erin.png"),
}
GROUPS = {"team": ("The Team", "https://img.example.com/team.png")}


def all_events() -> list[dict[str, Any]]:
    """Every scenario's events, in one list."""
    return [event for scenario in SCENARIOS for event in scenario.events()]


def expected(uid: str) -> dict[str, tuple[str, bool]]:
    """``{sessionId: (direction, missed)}`` for every call ``uid`` is part of."""
    found = {s.session: s.expect[uid] for s in SCENARIOS if uid in s.expect}
    if uid in IMPORTED_EXPECT:
        found[IMPORTED["sessionId"]] = IMPORTED_EXPECT[uid]
    return found


def newest_first(sessions: set[str] | list[str]) -> list[str]:
    """Session ids in list order (every call here has its own ``initiatedAt``, rising with the id)."""
    return sorted(sessions, reverse=True)


def load(stores: Any, app_id: str) -> None:
    """Store the whole history (events, the imported record, profiles) in an app."""
    from calltrail.sessions.events import parse_batch
    from calltrail.sessions.record import validate_record

    stores.sessions.ingest(app_id, parse_batch(all_events()))
    stores.sessions.put_records(app_id, [validate_record(IMPORTED)])
    stores.users.put_users(app_id, [(uid, name, avatar) for uid, (name, avatar) in USERS.items()])
    stores.users.put_groups(app_id, [(guid, name, icon) for guid, (name, icon) in GROUPS.items()])
