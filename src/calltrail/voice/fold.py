"""Fold a telephony call's status events into its record.

Pure: no I/O. The record is a function of the *set* of events: events are de-duplicated by id
and sorted by ``(at, lifecycle rank, id)`` before folding, and every "pick one" rule below
breaks ties the same way, so any arrival order and any redelivery give the same record.

Rules (documented for users in docs/bird-voice-api.md):

* A call appears once its events have supplied ``direction``, ``type``, ``from`` and ``to``;
  until then its events are kept and the call is not listed.
* ``createdAt`` is the earliest event, ``updatedAt`` the latest; ``ringingAt`` and
  ``answeredAt`` the earliest ``ringing`` and ``ongoing`` events; ``endedAt`` the terminal event
  that decides the status.
* Status: the earliest terminal event (``completed``, ``no-answer``, ``busy``, ``failed``,
  ``cancelled``) when there is one, so a late ``ringing`` cannot reopen a finished call;
  otherwise the furthest status reached in ``accepted < scheduled < starting < ringing <
  ongoing``.
* ``duration``: the latest value an event gives; otherwise, for a finished call, the answered
  span ``endedAt - answeredAt`` rounded to the nearest second when the call is ``completed``
  and 0 for every other outcome (spec file 004's ``no-answer`` calls show 0 even when an IVR
  answered them); absent while the call is live.
* Any other field: the latest event that gives it wins. Objects (``originator``, ``receiver``,
  the insights, ``amdResult``, ``notification``) are merged key by key, the latest event
  winning per key, so one event can bring the number and a later one the contact.
  ``callFlow`` commands are appended in event order, each command id once.
* ``originator`` and ``receiver``, required by Bird's schema, default to the ``from`` and ``to``
  numbers (``{"number": {"type": <type>, "number": <from>}}``) when no event describes them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import orjson

from calltrail.kernel.instants import format_rfc3339
from calltrail.voice.events import StatusEvent
from calltrail.voice.fields import RECORD_FIELDS
from calltrail.voice.vocabulary import LIFECYCLE_RANK, TERMINAL_STATUSES

#: Fields a call needs before it is listed.
NEEDED_FIELDS = ("direction", "type", "from", "to")
#: Object fields merged key by key across events.
MERGED_FIELDS = frozenset(("originator", "receiver", "qualityInsights", "sipInsights", "amdResult", "notification"))
# A fixed namespace: the flow id of a call whose events never named one is the same everywhere.
_FLOW_NAMESPACE = uuid.UUID("5d0c7a8e-2b6f-4e1d-9c3a-8f4b2e6d1a70")


def sort_key(event: StatusEvent) -> tuple[int, int, str]:
    """The canonical order of a call's events."""
    return (event.at_ms, LIFECYCLE_RANK[event.status], event.id)


def canonical(events: Iterable[StatusEvent]) -> list[StatusEvent]:
    """The distinct events, in canonical order.

    Two different events should never share an id; if they do anyway, the same one is kept
    whatever the order they came in (the smaller by sort key, then by content).
    """

    def full_key(event: StatusEvent) -> tuple[tuple[int, int, str], bytes]:
        return sort_key(event), orjson.dumps([event.status, event.data], option=orjson.OPT_SORT_KEYS)

    chosen: dict[str, StatusEvent] = {}
    for event in events:
        kept = chosen.setdefault(event.id, event)
        if kept is not event:
            # Rare (a redelivery read back with its original), so the costly key is built only here.
            chosen[event.id] = min(kept, event, key=full_key)
    return sorted(chosen.values(), key=sort_key)


def flow_id(call_id: str) -> str:
    """The ``callFlow.id`` of a call whose events never gave one."""
    return str(uuid.uuid5(_FLOW_NAMESPACE, call_id))


def _merge_flow(current: dict[str, Any] | None, flow: dict[str, Any]) -> dict[str, Any]:
    merged = current or {"id": None, "commands": []}
    if merged["id"] is None and "id" in flow:
        merged["id"] = flow["id"]
    seen = {command["id"] for command in merged["commands"]}
    for command in flow.get("commands", []):
        if command["id"] not in seen:
            seen.add(command["id"])
            merged["commands"].append(command)
    return merged


def _duration(status: str, answered: int | None, ended: int | None) -> int | None:
    if ended is None:
        return None
    if status != "completed" or answered is None:
        return 0
    return max(0, (ended - answered + 500) // 1000)


def fold(call_id: str, channel_id: str, events: Iterable[StatusEvent]) -> dict[str, Any] | None:
    """The call's record (spec file 004's shape) from its status events, or None while the
    events have not yet supplied the fields a listed call needs."""
    ordered = canonical(events)
    fields: dict[str, Any] = {}
    flow: dict[str, Any] | None = None
    for event in ordered:
        for key, value in event.data.items():
            if key == "callFlow":
                flow = _merge_flow(flow, value)
            elif key in MERGED_FIELDS:
                fields[key] = {**fields.get(key, {}), **value}
            else:
                fields[key] = value
    if not ordered or any(key not in fields for key in NEEDED_FIELDS):
        return None

    terminal = next((event for event in ordered if event.status in TERMINAL_STATUSES), None)
    if terminal is not None:
        status, ended = terminal.status, terminal.at_ms
    else:
        status = max((event.status for event in ordered), key=LIFECYCLE_RANK.__getitem__)
        ended = None
    ringing = next((event.at_ms for event in ordered if event.status == "ringing"), None)
    answered = next((event.at_ms for event in ordered if event.status == "ongoing"), None)
    if "duration" not in fields:
        duration = _duration(status, answered, ended)
        if duration is not None:
            fields["duration"] = duration
    for party, number in (("originator", "from"), ("receiver", "to")):
        fields.setdefault(party, {"number": {"type": fields["type"], "number": fields[number]}})
    if flow is not None:
        flow_key = flow["id"] or flow_id(call_id)
        fields["callFlow"] = {
            "id": flow_key,
            "commands": [
                {**command, "callFlowId": command.get("callFlowId", flow_key)} for command in flow["commands"]
            ],
        }

    fields["id"] = call_id
    fields["channelId"] = channel_id
    fields["status"] = status
    fields["createdAt"] = format_rfc3339(ordered[0].at_ms)
    fields["updatedAt"] = format_rfc3339(max(event.at_ms for event in ordered))
    for key, at in (("ringingAt", ringing), ("answeredAt", answered), ("endedAt", ended)):
        if at is not None:
            fields[key] = format_rfc3339(at)
    # The order spec file 004's examples show, whatever order the events brought the fields in.
    return {key: fields[key] for key in RECORD_FIELDS if key in fields}
