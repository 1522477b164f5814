"""Feeding a channel with demo calls through status-event validation and ingestion.

Generating and validating events is Python work; storing them is mostly database work, during
which the driver releases the GIL. One writer thread stores each batch while the next one is
being built, so the two overlap (a million calls in minutes). Every event still goes through
:func:`calltrail.voice.events.parse_event` and :meth:`VoiceStore.ingest`, exactly as a
client's would.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from calltrail.store.voice import VoiceStore
from calltrail.voice.demo import generate_calls
from calltrail.voice.events import StatusEvent, parse_event

BATCH_EVENTS = 5000


class InvalidDemoEvent(RuntimeError):
    """Raised when the generator produces an event the API would reject (a generator bug)."""


def feed_demo(
    store: VoiceStore,
    app_id: str,
    channel_id: str,
    calls: int,
    seed: int,
    on_call: Callable[[], None] = lambda: None,
    batch_events: int = BATCH_EVENTS,
) -> int:
    """Generate ``calls`` calls for a channel and ingest them; returns the number of events.

    ``on_call`` is called once per generated call (for a progress bar). Batches are ingested in
    order, one transaction each; the first storage error stops the feed and is raised here.
    """
    pending: queue.Queue[list[StatusEvent] | None] = queue.Queue(maxsize=2)
    failure: list[BaseException] = []

    def write() -> None:
        while (batch := pending.get()) is not None:
            if failure:
                continue  # drain: the producer stops at its next put
            try:
                store.ingest(app_id, channel_id, batch)
            except BaseException as exc:  # reported to the caller below
                failure.append(exc)

    writer = threading.Thread(target=write, name="demo-writer", daemon=True)
    writer.start()
    batch: list[StatusEvent] = []
    errors: dict[str, list[str]] = {}
    sent = 0
    try:
        for events in generate_calls(channel_id, count=calls, seed=seed):
            for raw in events:
                event = parse_event(raw, sent, errors, channel_id)
                if event is None:
                    raise InvalidDemoEvent(f"demo generator produced an invalid event: {errors}")
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
