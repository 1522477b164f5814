"""Event batches: one event or a list of 1..1000, validated all or nothing.

Pure: no I/O. Every domain's event parser and every adapter's output goes through
:func:`parse_batch`: problems are keyed ``events[i].field``, and one invalid event rejects the
whole batch (nothing is stored), so a client can resend a corrected batch as is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from calltrail.kernel.errors import InvalidRequest
from calltrail.kernel.instants import parse_instant
from calltrail.kernel.problems import CONTROL_RULE, Problems, has_control

MAX_BATCH = 1000
MAX_EVENT_ID = 255

E = TypeVar("E")
#: Validates one event's object; returns the event, or None after recording its problems.
EventParser = Callable[[Mapping[str, Any], Problems], E | None]


def parse_batch(body: object, parse_event: EventParser[E]) -> list[E]:
    """Validate a request body: one event object or a list of 1-1000 of them (all or nothing).

    Raises :class:`InvalidRequest` whose ``details`` name every problem of every event.
    """
    items = body if isinstance(body, list) else [body]
    if not items:
        raise InvalidRequest(details={"events": ["must contain at least one event"]})
    if len(items) > MAX_BATCH:
        raise InvalidRequest(details={"events": [f"must contain at most {MAX_BATCH} events, got {len(items)}"]})
    problems = Problems()
    events: list[E] = []
    for index, raw in enumerate(items):
        prefix = f"events[{index}]"
        if not isinstance(raw, dict):
            problems.fail(prefix, "must be a JSON object")
            continue
        event = parse_event(raw, problems.within(prefix + "."))
        if event is not None:
            events.append(event)
    if problems:
        invalid = len({key.split(".")[0] for key in problems.errors})
        raise InvalidRequest(f"{invalid} invalid event(s); nothing was stored.", problems.errors)
    return events


def event_id(raw: Mapping[str, Any], problems: Problems) -> str:
    """The event's ``id`` (unique per app: what makes redelivery idempotent)."""
    value = raw.get("id")
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_EVENT_ID:
        problems.fail("id", f"is required: a string of 1-{MAX_EVENT_ID} characters, unique per event")
        return ""
    if has_control(value):
        problems.fail("id", CONTROL_RULE)
        return ""
    return value


def event_at(raw: Mapping[str, Any], problems: Problems) -> int:
    """The event's ``at`` in epoch milliseconds (Unix seconds or RFC 3339 on the wire)."""
    if "at" not in raw:
        problems.fail("at", "is required: Unix seconds or an RFC 3339 date-time")
        return 0
    try:
        return parse_instant(raw["at"])
    except ValueError as exc:
        problems.fail("at", str(exc))
        return 0
