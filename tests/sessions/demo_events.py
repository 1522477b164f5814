"""Demo calls as validated events, the way a client sends them (through the events' parser)."""

from __future__ import annotations

from calltrail.kernel.problems import Problems
from calltrail.sessions.demo import build_world, generate_calls
from calltrail.sessions.events import Event, parse_event


def demo_events(app_id: str, calls: int, *, seed: int, span_days: int) -> list[Event]:
    """The parsed events of ``calls`` demo calls of ``app_id`` over ``span_days``, in order."""
    events = []
    for call in generate_calls(build_world(1), app_id=app_id, count=calls, seed=seed, span_days=span_days):
        for raw in call:
            event = parse_event(raw, Problems())
            assert event is not None, raw
            events.append(event)
    return events
