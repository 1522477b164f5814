"""Realistic, deterministic demo calls, expressed as native lifecycle events.

Pure: no I/O. :func:`generate_calls` yields each call's events in the shape ``POST
/v3/calls/events`` accepts; the CLI feeds them through the same validation and ingestion
pipeline as any client's events. The same seed, count and end date always give the same events.

The population: a few hundred users, a few dozen groups; 1:1 and group calls, audio and video
(some switching to video mid-call), call/meet/presenter modes, every status, multi-device joins
and reconnects, rejections, recordings and tags, spread over the months before ``end``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from calltrail.kernel.instants import parse_rfc3339

DEFAULT_END = "2026-11-01T00:00:00Z"
DEFAULT_SPAN_DAYS = 180

_FIRST = (
    "ava",
    "liam",
    "mia",
    "noah",
    "zoe",
    "ethan",
    "isla",
    "lucas",
    "aria",
    "omar",
    "lena",
    "ravi",
    "sofia",
    "mateo",
    "yuki",
    "amara",
    "felix",
    "nora",
    "hugo",
    "priya",
    "kenji",
    "elena",
    "diego",
    "ines",
    "tariq",
    "maya",
    "jonas",
    "leila",
    "arjun",
    "chloe",
    "sven",
    "alma",
    "kofi",
    "nina",
    "pablo",
    "hana",
    "ivan",
    "ruth",
)
_LAST = (
    "patel",
    "garcia",
    "kim",
    "nguyen",
    "smith",
    "muller",
    "rossi",
    "silva",
    "khan",
    "tanaka",
    "okafor",
    "novak",
    "haddad",
    "larsen",
    "dubois",
    "costa",
    "meyer",
    "ali",
    "chen",
    "santos",
)
_TEAMS = (
    "support",
    "sales",
    "design",
    "platform",
    "mobile",
    "growth",
    "finance",
    "legal",
    "ops",
    "research",
    "qa",
    "infra",
    "data",
    "security",
    "marketing",
    "hr",
    "success",
    "billing",
    "payments",
    "search",
)


@dataclass(frozen=True)
class Person:
    """A demo user: id and display name."""

    uid: str
    name: str


@dataclass(frozen=True)
class Team:
    """A demo group: id, display name and members."""

    guid: str
    name: str
    members: tuple[str, ...]


@dataclass(frozen=True)
class World:
    """The users and groups the demo calls are between."""

    people: tuple[Person, ...]
    teams: tuple[Team, ...]


def build_world(seed: int, users: int = 300, groups: int = 40) -> World:
    """A deterministic population of ``users`` people and ``groups`` groups."""
    rng = random.Random(f"world-{seed}")
    people = []
    for index in range(users):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        people.append(Person(f"{first}-{last}-{index + 1}", f"{first.title()} {last.title()}"))
    teams = []
    for index in range(groups):
        size = rng.randint(3, 14)
        members = tuple(p.uid for p in rng.sample(people, size))
        team = _TEAMS[index % len(_TEAMS)]
        suffix = f"-{index // len(_TEAMS) + 1}" if index >= len(_TEAMS) else ""
        teams.append(Team(f"team-{team}{suffix}", f"{team.title()} team{suffix}", members))
    return World(tuple(people), tuple(teams))


class _Call:
    """Builds one call's events."""

    def __init__(self, session_id: str, initiated: float):
        self.session_id = session_id
        self.events: list[dict[str, Any]] = []
        self.at = initiated

    def add(self, event_type: str, at: float, **fields: Any) -> None:
        # The session id ends in 40 random hex digits: 16 of them make a short, unique event id.
        event: dict[str, Any] = {
            "id": f"{self.session_id[-16:]}.{len(self.events)}",
            "type": event_type,
            "sessionId": self.session_id,
        }
        event["at"] = round(at, 3)
        event.update(fields)
        self.events.append(event)


def _outcome(rng: random.Random, group: bool) -> str:
    roll = rng.random()
    if group:
        return "ended" if roll < 0.86 else ("unanswered" if roll < 0.95 else "cancelled")
    for status, share in (("ended", 0.62), ("unanswered", 0.12), ("rejected", 0.10), ("cancelled", 0.10)):
        if roll < share:
            return status
        roll -= share
    return "busy"


def _talk(rng: random.Random, call: _Call, uid: str, device: str, start: float, end: float) -> None:
    """A device's stay in the call, sometimes with a dropped connection and a rejoin."""
    call.add("participant.joined", start, uid=uid, deviceId=device)
    if end - start > 60 and rng.random() < 0.06:
        drop = start + rng.uniform(20, end - start - 20)
        call.add("participant.left", drop, uid=uid, deviceId=device)
        call.add("participant.joined", drop + rng.uniform(2, 15), uid=uid, deviceId=device)
    call.add("participant.left", end, uid=uid, deviceId=device)


def _device(rng: random.Random, uid: str) -> str:
    platform = rng.choice(("web", "ios", "android", "desktop"))
    return f"{uid}@{platform}/{rng.getrandbits(32):08x}"


def generate_calls(
    world: World,
    *,
    app_id: str,
    count: int,
    seed: int = 1,
    end: str = DEFAULT_END,
    span_days: int = DEFAULT_SPAN_DAYS,
    region: str = "us",
) -> Iterator[list[dict[str, Any]]]:
    """Yield the events of ``count`` calls, oldest first, deterministic for the arguments."""
    rng = random.Random(f"calls-{seed}")
    end_s = parse_rfc3339(end) / 1000
    start_s = end_s - span_days * 86400
    # The newest calls (at least two) fall in the last hour and are still ringing or in progress.
    live_count = min(count, max(2, count // 500))
    settled_end = end_s - 3600
    step = (settled_end - start_s) / max(count - live_count, 1)
    live_step = 3600 / live_count
    uids = [p.uid for p in world.people]
    for index in range(count):
        live_index = index - (count - live_count)
        if live_index < 0:
            initiated = start_s + (index + rng.random()) * step
        else:
            initiated = settled_end + (live_index + rng.random()) * live_step
        session_id = f"v1.{region}.{app_id}.{int(initiated)}{rng.getrandbits(160):040x}"
        call = _Call(session_id, initiated)
        group = rng.random() < 0.25
        initiator = rng.choice(uids)
        if group:
            team = rng.choice(world.teams)
            receiver, receiver_type = team.guid, "group"
            invitees = [uid for uid in team.members if uid != initiator]
            mode = rng.choices(("call", "meet", "presenter"), (0.55, 0.35, 0.10))[0]
        else:
            receiver = rng.choice(uids)
            while receiver == initiator:
                receiver = rng.choice(uids)
            receiver_type, invitees, mode = "user", [receiver], "call"
        media = "video" if rng.random() < 0.4 else "audio"
        fields: dict[str, Any] = {
            "initiator": initiator,
            "receiver": receiver,
            "receiverType": receiver_type,
            "callType": media,
            "mode": mode,
            "invitees": invitees,
        }
        if rng.random() < 0.15:
            fields["tags"] = rng.sample(("sales", "support", "escalation", "vip", "follow-up", "internal"), 2)
        if rng.random() < 0.1:
            fields["metaData"] = {"ticket": f"T-{rng.randint(1000, 99999)}", "source": rng.choice(("app", "web"))}
        call.add("call.initiated", initiated, **fields)

        ringing = index == count - 1
        live = live_index >= 0 and not ringing
        status = "initiated" if ringing else ("ongoing" if live else _outcome(rng, group))
        ring = rng.uniform(2, 25)
        if status == "initiated":
            pass
        elif status in ("unanswered", "rejected", "cancelled", "busy"):
            ended_at = initiated + (rng.uniform(1, 4) if status == "busy" else ring)
            if status == "rejected":
                call.add("participant.rejected", ended_at, uid=invitees[0])
            call.add(f"call.{status}", ended_at)
            if rng.random() < 0.3:
                call.add("call.ended", ended_at + 0.5)
        else:
            started = initiated + ring
            length = min(rng.lognormvariate(5.2, 1.0), 4 * 3600)
            finish = started + max(length, 5)
            if live:
                finish = end_s + 3600  # beyond the window: nobody has left yet
            call.add("call.started", started)
            answering = [initiator]
            if group:
                others = [uid for uid in invitees if rng.random() < 0.6] or invitees[:1]
                answering += others
                for uid in invitees:
                    if uid not in others and rng.random() < 0.2:
                        call.add("participant.rejected", started + rng.uniform(0, 10), uid=uid)
            else:
                answering.append(receiver)
            for position, uid in enumerate(answering):
                joined = started + (0 if position == 0 else rng.uniform(0, 6))
                left = finish - (0 if position == 0 else rng.uniform(0, 3))
                if live:
                    call.add("participant.joined", joined, uid=uid, deviceId=_device(rng, uid))
                    continue
                _talk(rng, call, uid, _device(rng, uid), joined, max(left, joined + 1))
                if rng.random() < 0.05:
                    second = joined + rng.uniform(5, 30)
                    if second < left:
                        _talk(rng, call, uid, _device(rng, uid), second, left)
            if media == "audio" and rng.random() < 0.08:
                call.add("call.type_changed", started + (finish - started) * rng.uniform(0.2, 0.7), callType="video")
            if not live:
                call.add("call.ended", finish)
                if rng.random() < 0.1:
                    call.add(
                        "recording.ready",
                        finish + rng.uniform(5, 60),
                        rid=f"rec-{rng.getrandbits(64):016x}",
                        startTime=round(started, 3),
                        endTime=round(finish, 3),
                        recording_url=f"https://recordings.example.com/{app_id}/{session_id}.mp4",
                    )
                if rng.random() < 0.04:
                    call.add("call.updated", finish + 1, tags=["reviewed"])
        yield call.events
