"""Feeding demo calls through event validation and the event log, for either call domain.

Generating and validating events is Python work; storing them is mostly database work, during
which the driver releases the GIL. One writer thread stores each batch while the next one is
being built, so the two overlap (a million calls in minutes). Every event still goes through its
domain's event parser and store, exactly as a client's would.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from calltrail.kernel.problems import Problems
from calltrail.sessions.events import parse_event as parse_session_event
from calltrail.store.sessions import SessionStore
from calltrail.store.usage_backlog import tidy, tidying
from calltrail.store.voice import VoiceStore
from calltrail.voice.demo import generate_calls
from calltrail.voice.events import parse_event as parse_status_event

#: Events per transaction. Each batch recomputes the usage blocks its calls touch, and a day's
#: blocks are touched by every batch within it: 20,000 events (about 2,400 demo calls) took 0.78-0.83x
#: the time of 5,000 for the same 30,000 calls (docs/storage.md); 50,000 gained nothing more.
BATCH_EVENTS = 20_000

E = TypeVar("E")


class InvalidDemoEvent(RuntimeError):
    """Raised when the generator produces an event the API would reject (a generator bug)."""


def feed(
    calls: Iterable[Iterable[Mapping[str, Any]]],
    parse_event: Callable[[Mapping[str, Any], Problems], E | None],
    ingest: Callable[[list[E]], object],
    on_call: Callable[[], None] = lambda: None,
    batch_events: int = BATCH_EVENTS,
    tidy: Callable[[], None] = lambda: None,
) -> int:
    """Validate each generated call's events and ``ingest`` them in batches; returns the number
    of events.

    ``on_call`` is called once per generated call (for a progress bar), ``tidy`` after every
    ``TIDY_EVERY`` batches, between transactions (:func:`~calltrail.store.usage_backlog.tidying`).
    Batches are ingested in order, one transaction each; the first storage error stops the feed
    and is raised here.
    """
    pending: queue.Queue[list[E] | None] = queue.Queue(maxsize=2)
    failure: list[BaseException] = []

    def write() -> None:
        batch_stored = tidying(tidy)
        while (batch := pending.get()) is not None:
            if failure:
                continue  # drain: the producer stops at its next put
            try:
                ingest(batch)
                batch_stored()
            except BaseException as exc:  # reported to the caller below
                failure.append(exc)

    writer = threading.Thread(target=write, name="demo-writer", daemon=True)
    writer.start()
    batch: list[E] = []
    sent = 0
    try:
        for events in calls:
            for raw in events:
                problems = Problems(prefix=f"events[{sent}].")
                event = parse_event(raw, problems)
                if event is None:
                    raise InvalidDemoEvent(f"demo generator produced an invalid event: {problems.errors}")
                batch.append(event)
                sent += 1
            if len(batch) >= batch_events:
                if failure:
                    break
                pending.put(batch)
                batch = []
            on_call()
        if batch and not failure:
            pending.put(batch)
    finally:
        pending.put(None)
        writer.join()
    if failure:
        raise failure[0]
    return sent


def feed_demo(
    store: VoiceStore,
    app_id: str,
    channel_id: str,
    calls: int,
    seed: int,
    on_call: Callable[[], None] = lambda: None,
    batch_events: int = BATCH_EVENTS,
) -> int:
    """Generate ``calls`` phone calls for a channel and ingest them; returns the number of events."""
    return feed(
        generate_calls(channel_id, count=calls, seed=seed),
        lambda raw, problems: parse_status_event(raw, problems, channel_id),
        lambda batch: store.ingest(app_id, channel_id, batch),
        on_call,
        batch_events,
        lambda: tidy(store.db),
    )


def feed_session_demo(
    store: SessionStore,
    app_id: str,
    calls: Iterable[Iterable[Mapping[str, Any]]],
    on_call: Callable[[], None] = lambda: None,
    batch_events: int = BATCH_EVENTS,
) -> int:
    """Ingest generated in-app calls (:func:`calltrail.sessions.demo.generate_calls`); returns
    the number of events."""
    return feed(calls, parse_session_event, lambda batch: store.ingest(app_id, batch), on_call, batch_events,
                lambda: tidy(store.db))  # fmt: skip
