"""Helpers of the webhook tests: subscriptions, calls that end, and draining the outbox."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import anyio

from calltrail.jobs.deliverer import Deliverer, Policy
from calltrail.outbound.subscriptions import NewSubscription
from calltrail.sessions.events import parse_batch
from calltrail.store import Stores
from calltrail.store.outbox import Subscription

#: Retries within milliseconds, receivers on 127.0.0.1.
FAST = Policy(timeout=0.5, retry_scale=0.0005, lease=5, allow_private=True, poll_interval=0.01)


def subscribe(stores: Stores, app_id: str, url: str, events: tuple[str, ...] = ("*",)) -> Subscription:
    return stores.outbox.create(app_id, NewSubscription(url, events, "test"))


def ended_call(session: str, *, at: int = 1_777_000_000, answered: bool = False) -> list[dict[str, Any]]:
    """ann calls ben; ben answers (``ended``) or never does (``unanswered``: ben missed it)."""
    events: list[dict[str, Any]] = [
        {"id": f"{session}-1", "type": "call.initiated", "sessionId": session, "at": at, "initiator": "ann",
         "receiver": "ben", "receiverType": "user", "callType": "audio"},
    ]  # fmt: skip
    if answered:
        events += [
            {"id": f"{session}-2", "type": "call.started", "sessionId": session, "at": at + 2},
            {"id": f"{session}-3", "type": "participant.joined", "sessionId": session, "at": at + 2, "uid": "ann"},
            {"id": f"{session}-4", "type": "participant.joined", "sessionId": session, "at": at + 3, "uid": "ben"},
            {"id": f"{session}-5", "type": "participant.left", "sessionId": session, "at": at + 20, "uid": "ben"},
            {"id": f"{session}-6", "type": "participant.left", "sessionId": session, "at": at + 20, "uid": "ann"},
        ]
    events.append({"id": f"{session}-9", "type": "call.ended", "sessionId": session, "at": at + 20})
    return events


def ingest(stores: Stores, app_id: str, events: list[dict[str, Any]]) -> None:
    stores.sessions.ingest(app_id, parse_batch(events))


def drain(stores: Stores, policy: Policy = FAST) -> None:
    """Deliver everything due now."""
    anyio.run(Deliverer(stores.db, policy).drain)


def drain_until(stores: Stores, done: Callable[[], bool], policy: Policy = FAST, timeout: float = 30) -> None:
    """Deliver, again and again (retries come due), until ``done()``."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "not done in time"
        drain(stores, policy)
        time.sleep(0.005)
