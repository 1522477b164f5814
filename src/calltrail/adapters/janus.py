"""Janus: the events of its HTTP event handler (``janus.eventhandler.sampleevh``) as calls.

Pure: no I/O. Janus has no notion of a call, only of rooms that people join and leave. One
*occupancy* of one room is one call: from the first participant joining an empty room to the last
one leaving it. VideoRoom rooms give ``video`` calls and AudioBridge rooms ``audio`` calls, in
``meet`` mode with the room as the ``group`` receiver; each participant's ``uid`` is the
``display`` name given at join (the feed id without one) and its ``deviceId`` the feed id.

**Janus needs room-level folding.** One POST cannot tell where a call starts or ends (that needs
every event of the room), so unlike other adapters this one does not map a payload to native
events. The engine wires it in three pure steps:

1. :func:`parse` validates one POST (an event object, or the array the handler groups events
   into) and extracts a :class:`JanusFact` per relevant event: a join, a leave, or a room's
   destruction, keyed by :attr:`JanusFact.event_key` (derived from the event's content, so a
   redelivery is the same fact). :meth:`JanusAdapter.translate` returns these facts as
   dicts (:meth:`JanusFact.to_dict`) whose ``room`` value is the storage key of the room.
2. The engine stores the facts per room, de-duplicated by ``id``.
3. For each room a POST touched, :func:`occupancies` over *all* the room's stored facts (rebuilt
   with :meth:`JanusFact.from_dict`) gives its calls, and :func:`native_events` each call's native
   events (docs/events.md), which go through ``parse_batch`` and ``derive_record`` like any
   other. A late or out-of-order fact can merge two calls or move a call's first join, so the
   engine must replace the room's calls by the new result (drop sessions no longer produced).

Both steps are functions of the *set* of facts: facts are sorted canonically by ``(at, kind,
event key)`` and every choice breaks ties the same way, so arrival order and redelivery change
nothing, even though a room is reused for many calls.

What Janus 1.1 sends (checked against its source, and tested against a real Janus): event type 64
carries plugin events, ``timestamp`` is Unix time in microseconds, and ``session_id``/
``handle_id`` are present only for events raised in a handle's context; the VideoRoom's
``leaving``/``kicked`` and the AudioBridge's hang-up ``left`` have neither. Used:

* VideoRoom ``joined`` and ``published`` (a remote publisher only sends ``published``) join;
  ``leaving`` and ``kicked`` leave (``unpublished`` does not: the participant stays in the room).
* AudioBridge ``joined`` joins; ``left``, ``kicked`` and ``kicked_all`` leave.
* ``destroyed`` (both plugins) ends every stint still open in the room: Janus sends no leave for
  the participants of a destroyed room.

Session and handle events (types 1 and 2) are counted as ignored: detaching a handle, destroying
a session and a session timing out all make the plugin send ``leaving``/``left`` itself.

The session id is ``janus-<plugin>-<room>-<first join µs>``: ``janus-videoroom-1234-1717171717123456``.
A room id that is not made of session-id characters (string room ids may hold anything) is
replaced by ``h`` and 24 hex digits of its SHA-256.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast
from urllib.parse import quote, unquote

import orjson

from calltrail.adapters.base import BasicAuthAdapter, Domain, HookRequest, Translation
from calltrail.kernel.errors import InvalidRequest
from calltrail.kernel.instants import MAX_MS
from calltrail.kernel.problems import Problems

Kind = Literal["join", "leave", "destroy"]
Plugin = Literal["videoroom", "audiobridge"]

#: Janus' event type for plugin-originated events (1 is sessions, 2 handles, 64 plugins).
PLUGIN_EVENT_TYPE = 64
PLUGINS: dict[str, Plugin] = {"janus.plugin.videoroom": "videoroom", "janus.plugin.audiobridge": "audiobridge"}
CALL_TYPES: dict[Plugin, str] = {"videoroom": "video", "audiobridge": "audio"}
#: Plugin event names (``event.data.event``) and the fact each one is.
EVENT_KINDS: dict[Plugin, dict[str, Kind]] = {
    "videoroom": {"joined": "join", "published": "join", "leaving": "leave", "kicked": "leave", "destroyed": "destroy"},
    "audiobridge": {
        "joined": "join",
        "left": "leave",
        "kicked": "leave",
        "kicked_all": "leave",
        "destroyed": "destroy",
    },
}
#: At one instant a join sorts before a leave (touching stints are one call), a room's
#: destruction last.
_KIND_RANK: dict[Kind, int] = {"join": 0, "leave": 1, "destroy": 2}
MAX_EVENTS = 1000
MAX_TIMESTAMP_US = MAX_MS * 1000
_ID_LIMIT = 255
_SESSION_ROOM = re.compile(r"^[A-Za-z0-9._~:@+=-]{1,64}$")
# Characters a Calltrail uid may not hold (docs/events.md): replaced by "_".
_NOT_IN_UID = re.compile(r"[\s/?#%\x00-\x1f\x7f]")
# Control characters never reach the event log, not even in a (string) feed id used as deviceId.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_UID_LIMIT = 100


@dataclass(frozen=True, slots=True)
class RoomKey:
    """One room of one Janus server: room ids are only unique within a plugin of a server
    (the ``emitter``, Janus' ``server_name``)."""

    emitter: str
    plugin: Plugin
    room: str

    @property
    def id(self) -> str:
        """The storage key: ``videoroom:1234@server`` (room and emitter percent-encoded)."""
        return f"{self.plugin}:{quote(self.room, safe='')}@{quote(self.emitter, safe='')}"

    @classmethod
    def from_id(cls, key: str) -> RoomKey:
        """Read back :attr:`id`."""
        plugin, _, rest = key.partition(":")
        room, _, emitter = rest.rpartition("@")
        if plugin not in CALL_TYPES or not room:
            raise ValueError(f"not a Janus room key: {key!r}")
        return cls(unquote(emitter), plugin, unquote(room))


@dataclass(frozen=True, slots=True)
class JanusFact:
    """What one relevant Janus event says: a feed joined or left a room, or the room was
    destroyed (``feed_id`` is None then)."""

    room_key: RoomKey
    kind: Kind
    feed_id: str | None
    display: str | None
    at_us: int
    event_key: str

    def sort_key(self) -> tuple[int, int, str]:
        """The canonical order of a room's facts."""
        return (self.at_us, _KIND_RANK[self.kind], self.event_key)

    def identity(self) -> tuple[int, int, str, str, str, str]:
        """A total order, to pick one fact deterministically among facts sharing a key."""
        return (*self.sort_key(), self.room_key.id, self.feed_id or "", self.display or "")

    def to_dict(self) -> dict[str, Any]:
        """The stored shape: ``{"id", "room", "kind", "feedId", "display", "atUs"}``."""
        return {
            "id": self.event_key,
            "room": self.room_key.id,
            "kind": self.kind,
            "feedId": self.feed_id,
            "display": self.display,
            "atUs": self.at_us,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> JanusFact:
        """Read back :meth:`to_dict` (raises ``ValueError`` for anything else)."""
        kind, at_us = raw.get("kind"), raw.get("atUs")
        if kind not in _KIND_RANK or not isinstance(at_us, int) or not isinstance(raw.get("id"), str):
            raise ValueError(f"not a Janus fact: {raw!r}")
        feed_id, display = raw.get("feedId"), raw.get("display")
        return cls(
            room_key=RoomKey.from_id(str(raw.get("room"))),
            kind=cast(Kind, kind),
            feed_id=None if feed_id is None else str(feed_id),
            display=None if display is None else str(display),
            at_us=at_us,
            event_key=raw["id"],
        )


@dataclass(frozen=True, slots=True)
class JanusBatch:
    """One POST: its facts, and how many of its events Calltrail does not use."""

    facts: list[JanusFact]
    ignored: int


# --- step 1: one POST to facts ----------------------------------------------------------------


def read_batch(body: bytes) -> JanusBatch:
    """Validate one POST of the event handler and extract its facts; raise
    :class:`~calltrail.kernel.errors.InvalidRequest` naming what is wrong (all or nothing)."""
    items = _decode(body)
    problems = Problems()  # keyed like ``events[3].event.data.room``
    facts: list[JanusFact] = []
    ignored = 0
    for index, item in enumerate(items):
        fact = _fact(item, f"events[{index}]", problems)
        if fact is None:
            ignored += 1
        else:
            facts.append(fact)
    problems.raise_if_any(f"{len(problems.errors)} invalid field(s) in the Janus events; nothing was used.")
    return JanusBatch(facts, ignored)


def parse(body: bytes) -> list[JanusFact]:
    """The facts of one POST (see :func:`read_batch`)."""
    return read_batch(body).facts


def _decode(body: bytes) -> list[Any]:
    if body[:2] == b"\x1f\x8b":
        raise InvalidRequest(details={"body": ["is gzip-compressed: set compress = false in the sampleevh config"]})
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(details={"body": [f"is not valid JSON ({exc})"]}) from None
    items = decoded if isinstance(decoded, list) else [decoded]
    if not isinstance(decoded, dict | list) or not items:
        raise InvalidRequest(details={"body": ["must be a Janus event object or a non-empty array of them"]})
    if len(items) > MAX_EVENTS:
        raise InvalidRequest(details={"body": [f"must hold at most {MAX_EVENTS} events, got {len(items)}"]})
    return items


def _fact(item: object, prefix: str, problems: Problems) -> JanusFact | None:
    """The fact of one event, or None for an event Calltrail does not use (or an invalid one,
    whose reasons go to ``problems``)."""
    if not isinstance(item, dict):
        problems.fail(prefix, "must be a JSON object")
        return None
    event_type = item.get("type")
    if not isinstance(event_type, int) or isinstance(event_type, bool):
        problems.fail(f"{prefix}.type", "is required: Janus' numeric event type")
        return None
    if event_type != PLUGIN_EVENT_TYPE:
        return None
    body = item.get("event")
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        problems.fail(f"{prefix}.event", "must be an object with the plugin's data object")
        return None
    package = body.get("plugin")
    plugin = PLUGINS.get(package) if isinstance(package, str) else None
    name = body["data"].get("event")
    kind = EVENT_KINDS[plugin].get(name) if plugin is not None and isinstance(name, str) else None
    if plugin is None or kind is None:
        return None
    return _plugin_fact(item, body["data"], plugin, kind, prefix, problems)


def _plugin_fact(
    item: dict[str, Any], data: dict[str, Any], plugin: Plugin, kind: Kind, prefix: str, problems: Problems
) -> JanusFact | None:
    before = len(problems.errors)
    at_us = item.get("timestamp")
    if not isinstance(at_us, int) or isinstance(at_us, bool) or not 0 < at_us <= MAX_TIMESTAMP_US:
        problems.fail(f"{prefix}.timestamp", "is required: Unix time in microseconds")
    room = _janus_id(data.get("room"), f"{prefix}.event.data.room", problems)
    feed = _janus_id(data.get("id"), f"{prefix}.event.data.id", problems) if kind != "destroy" else None
    display = data.get("display")
    if display is not None and not isinstance(display, str):
        problems.fail(f"{prefix}.event.data.display", "must be a string")
    emitter = item.get("emitter", "")
    if not isinstance(emitter, str):
        problems.fail(f"{prefix}.emitter", "must be a string (Janus' server_name)")
    if len(problems.errors) != before or room is None:
        return None
    return JanusFact(
        room_key=RoomKey(emitter, plugin, room),
        kind=kind,
        feed_id=feed,
        display=display or None,
        at_us=cast(int, at_us),
        event_key=_event_key(item),
    )


def _janus_id(value: object, field: str, problems: Problems) -> str | None:
    """Room and participant ids are integers, or strings with the plugin's ``string_ids``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value:
        return value
    problems.fail(field, "is required: an integer or a non-empty string")
    return None


def _event_key(item: dict[str, Any]) -> str:
    """A stable id for one Janus event, from its content: a redelivered POST repeats the same
    event byte for byte, and two distinct events differ at least in their microsecond timestamp
    or their data. Leaves carry no session or handle id, so the whole event is hashed."""
    canonical = orjson.dumps(item, option=orjson.OPT_SORT_KEYS)
    return "janus-" + hashlib.sha256(canonical).hexdigest()[:40]


# --- step 2: a room's facts to calls ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Stint:
    """One feed's continuous presence in a room; ``left_us`` is None while it is still there."""

    feed_id: str
    uid: str
    joined_us: int
    left_us: int | None


@dataclass(frozen=True, slots=True)
class Occupancy:
    """One call: a maximal group of overlapping stints in one room, by join time."""

    room_key: RoomKey
    session_id: str
    stints: tuple[Stint, ...]

    @property
    def started_us(self) -> int:
        return self.stints[0].joined_us

    @property
    def ended_us(self) -> int | None:
        """When the last participant left, or None while anyone is still in the room."""
        ends = [stint.left_us for stint in self.stints]
        return None if None in ends else max(cast(list[int], ends))

    @property
    def call_type(self) -> str:
        return CALL_TYPES[self.room_key.plugin]


def occupancies(facts: Iterable[JanusFact]) -> list[Occupancy]:
    """Every call in the rooms the facts are about, by room then start: a function of the set
    of facts (de-duplicated by event key, sorted canonically)."""
    by_room: dict[RoomKey, list[JanusFact]] = {}
    for fact in _unique(facts):
        by_room.setdefault(fact.room_key, []).append(fact)
    calls: list[Occupancy] = []
    for room_key in sorted(by_room, key=lambda key: key.id):
        room_facts = sorted(by_room[room_key], key=JanusFact.sort_key)
        calls.extend(_group(room_key, _stints(room_facts)))
    return calls


def _unique(facts: Iterable[JanusFact]) -> list[JanusFact]:
    chosen: dict[str, JanusFact] = {}
    for fact in facts:
        other = chosen.get(fact.event_key)
        if other is None or fact.identity() < other.identity():
            chosen[fact.event_key] = fact
    return list(chosen.values())


def _stints(facts: list[JanusFact]) -> list[Stint]:
    """Pair each feed's joins and leaves, in canonical order: a join while present and a leave
    while absent change nothing; a room's destruction ends every open stint."""
    open_since: dict[str, tuple[int, str | None]] = {}
    stints: list[Stint] = []

    def close(feed: str, at_us: int) -> None:
        joined_us, display = open_since.pop(feed)
        stints.append(Stint(feed, participant_uid(display, feed), joined_us, at_us))

    for fact in facts:
        if fact.kind == "destroy":
            for feed in sorted(open_since):
                close(feed, fact.at_us)
        elif fact.feed_id is None:
            continue
        elif fact.kind == "join":
            joined = open_since.get(fact.feed_id)
            if joined is None:
                open_since[fact.feed_id] = (fact.at_us, fact.display)
            elif joined[1] is None and fact.display:
                # ``joined`` without a display then ``published`` with one: same stint, named.
                open_since[fact.feed_id] = (joined[0], fact.display)
        elif fact.feed_id in open_since:
            close(fact.feed_id, fact.at_us)
    for feed, (joined_us, display) in open_since.items():
        stints.append(Stint(feed, participant_uid(display, feed), joined_us, None))
    return sorted(stints, key=lambda stint: (stint.joined_us, stint.feed_id))


def _group(room_key: RoomKey, stints: list[Stint]) -> list[Occupancy]:
    """Split a room's timeline into maximal groups of overlapping stints (a stint joining at
    the instant another leaves keeps the room occupied)."""
    groups: list[list[Stint]] = []
    group_end: int | None = None  # None: someone in the current group is still there
    for stint in stints:
        if groups and (group_end is None or stint.joined_us <= group_end):
            groups[-1].append(stint)
            group_end = None if group_end is None or stint.left_us is None else max(group_end, stint.left_us)
        else:
            groups.append([stint])
            group_end = stint.left_us
    return [Occupancy(room_key, session_id(room_key, group[0].joined_us), tuple(group)) for group in groups]


def session_id(room_key: RoomKey, first_join_us: int) -> str:
    """``janus-<plugin>-<room>-<first join µs>`` (see the module docstring)."""
    room = room_key.room
    if not _SESSION_ROOM.match(room):
        room = "h" + hashlib.sha256(room.encode()).hexdigest()[:24]
    return f"janus-{room_key.plugin}-{room}-{first_join_us}"


def participant_uid(display: str | None, feed_id: str) -> str:
    """The ``display`` name given at join, else the feed id, as a valid Calltrail uid."""
    return as_entity_id(display or feed_id)


def as_entity_id(text: str) -> str:
    """``text`` as a valid Calltrail uid or group id (docs/events.md): each whitespace, ``/``,
    ``?``, ``#``, ``%`` or control character becomes ``_``, and it is cut to 100 characters."""
    return _NOT_IN_UID.sub("_", text)[:_UID_LIMIT]


def _fit(text: str, session: str) -> str:
    """Keep an id within 255 characters (long string ids) and free of control characters (which
    event ids may not contain): hash it when it would not fit or is not clean."""
    if len(text) <= _ID_LIMIT and not _CONTROL.search(text):
        return text
    return f"{session}:{hashlib.sha256(text.encode()).hexdigest()[:40]}"


def native_events(occupancy: Occupancy) -> list[dict[str, Any]]:
    """The call's native events (docs/events.md), with ids deterministic per session:
    ``call.initiated`` and ``call.started`` at the first join (the first joiner initiates, the
    room is the receiver), a join and a leave per stint, ``call.ended`` once everyone left."""
    sid = occupancy.session_id
    started = _seconds(occupancy.started_us)
    first = occupancy.stints[0]
    events: list[dict[str, Any]] = [
        {
            "id": f"{sid}:initiated",
            "type": "call.initiated",
            "sessionId": sid,
            "at": started,
            "initiator": first.uid,
            "receiver": as_entity_id(occupancy.room_key.room),
            "receiverType": "group",
            "callType": occupancy.call_type,
            "mode": "meet",
        },
        {"id": f"{sid}:started", "type": "call.started", "sessionId": sid, "at": started},
    ]
    for stint in occupancy.stints:
        events.extend(_stint_events(sid, stint))
    ended = occupancy.ended_us
    if ended is not None:
        events.append({"id": f"{sid}:ended", "type": "call.ended", "sessionId": sid, "at": _seconds(ended)})
    return events


def _stint_events(sid: str, stint: Stint) -> list[dict[str, Any]]:
    device = _fit(_CONTROL.sub("_", stint.feed_id), "feed")
    moments = [("participant.joined", "joined", stint.joined_us)]
    if stint.left_us is not None:
        moments.append(("participant.left", "left", stint.left_us))
    return [
        {
            "id": _fit(f"{sid}:{label}:{stint.feed_id}:{at_us}", sid),
            "type": event_type,
            "sessionId": sid,
            "at": _seconds(at_us),
            "uid": stint.uid,
            "deviceId": device,
        }
        for event_type, label, at_us in moments
    ]


def _seconds(at_us: int) -> float:
    """Janus' microseconds as the fractional Unix seconds native events take (kept to the ms)."""
    return round(at_us / 1_000_000, 3)


# --- the adapter --------------------------------------------------------------------------------


class JanusAdapter(BasicAuthAdapter):
    """The ``janus`` provider: HTTP Basic credentials generated by Calltrail, configured as
    ``backend_user``/``backend_pwd`` in Janus' sampleevh event handler."""

    provider: str = "janus"
    domain: Domain = "sessions"

    def translate(self, request: HookRequest) -> Translation:
        """The POST's facts as dicts (:meth:`JanusFact.to_dict`), *not* native events: they
        must be folded per room (see the module docstring), by :func:`occupancies`."""
        batch = read_batch(request.body)
        return Translation(events=[fact.to_dict() for fact in batch.facts], ignored=batch.ignored)


ADAPTER = JanusAdapter()
