"""The outbox and the deliverer on SQLite and PostgreSQL, against a real HTTP receiver: every
event type, Standard Webhooks signatures checked with ``standardwebhooks``, retries after 500s
and timeouts, order behind a failing head, 410, a failing streak, replay and the SSRF guard."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace

import anyio
import orjson
import pytest

from calltrail.jobs.deliverer import Deliverer
from calltrail.kernel.errors import Conflict, DeliveryNotFound, WebhookNotFound
from calltrail.outbound.subscriptions import Changes
from calltrail.sessions.record import merge_record
from calltrail.store import Stores, open_stores
from calltrail.voice.events import parse_batch as parse_voice_batch
from calltrail.voice.vocabulary import new_channel_settings
from tests.outbound.receiver import Received, Receiver, running
from tests.outbound.support import FAST, drain, drain_until, ended_call, ingest, subscribe

RECORDING = {"rid": "rec-1", "startTime": 1_777_000_005, "endTime": 1_777_000_015, "recording_url": "https://r/1"}


def record_now(stores: Stores, app_id: str, session: str) -> dict[str, object]:
    stored = stores.sessions.get(app_id, session)
    assert stored is not None
    return merge_record(stored.summary, stored.extra)


def statuses(stores: Stores, app_id: str, sub: str) -> list[str]:
    return [d.status for d in stores.outbox.deliveries(app_id, sub, None, 100).items]


def test_every_event_type_is_delivered_signed(fresh: Stores, app_id: str, receiver: Receiver) -> None:
    sub = subscribe(fresh, app_id, receiver.url())
    ingest(fresh, app_id, ended_call("s1"))
    ended = record_now(fresh, app_id, "s1")
    recording = {"id": "s1-rec", "type": "recording.ready", "sessionId": "s1", "at": 1_777_000_030}
    ingest(fresh, app_id, [recording | RECORDING])
    updated = record_now(fresh, app_id, "s1")
    channel = fresh.voice.create_channel(app_id, new_channel_settings("Line")).channel_id
    call = str(uuid.uuid4())
    phone = [
        {"id": "p1", "callId": call, "status": "ringing", "at": "2026-03-01T16:00:01Z", "direction": "incoming",
         "type": "pstn", "from": "+351910648518", "to": "+3197058016589"},
        {"id": "p2", "callId": call, "status": "completed", "at": "2026-03-01T16:00:09Z"},
    ]  # fmt: skip
    fresh.voice.ingest(app_id, channel, parse_voice_batch(phone, channel))
    imported = {**ended, "sessionId": "imported-1"}
    fresh.sessions.put_records(app_id, [imported])
    drain(fresh)
    bodies = receiver.verified(sub.secret)  # raises unless every signature verifies
    assert [b["type"] for b in bodies] == [
        "call.ended", "call.missed", "call.updated", "recording.ready", "voice.call.ended", "call.ended", "call.missed",
    ]  # fmt: skip
    assert bodies[0]["data"] == ended
    assert bodies[1]["data"] == {"uid": "ben", "call": ended}
    assert bodies[2]["data"] == updated
    assert bodies[3]["data"]["sessionId"] == "s1" and bodies[3]["data"]["recording"]["rid"] == "rec-1"
    assert bodies[4]["data"] == orjson.loads(fresh.voice.get(app_id, channel, call) or b"")
    assert bodies[5]["data"]["sessionId"] == "imported-1"
    assert all(b["timestamp"].endswith("Z") for b in bodies)
    assert len({r.webhook_id for r in receiver.requests}) == len(bodies)
    assert statuses(fresh, app_id, sub.subscription_id) == ["delivered"] * len(bodies)
    # a redelivered event changes nothing, so it raises nothing
    ingest(fresh, app_id, ended_call("s1"))
    drain(fresh)
    assert len(receiver.requests) == len(bodies)


def test_a_subscription_gets_only_its_event_types(fresh: Stores, app_id: str, receiver: Receiver) -> None:
    subscribe(fresh, app_id, receiver.url("/missed"), ("call.missed",))
    ingest(fresh, app_id, ended_call("a"))
    ingest(fresh, app_id, ended_call("b", answered=True))
    drain(fresh)
    assert [(r.path, r.json["type"], r.json["data"]["uid"]) for r in receiver.requests] == [
        ("/missed", "call.missed", "ben")
    ]


def test_nothing_is_written_without_a_subscription(fresh: Stores, app_id: str) -> None:
    ingest(fresh, app_id, ended_call("quiet"))
    with fresh.db.read() as conn:
        assert conn.fetchone("SELECT count(*) FROM webhook_deliveries WHERE app_id = ?", (app_id,)) == (0,)


def test_retries_after_500s_and_timeouts_keep_the_webhook_id(fresh: Stores, app_id: str) -> None:
    answers: Iterator[int | tuple[float, int]] = iter([500, 502, (1.0, 204), 204])
    receiver = Receiver(answer=lambda request: next(answers))
    with running(receiver):
        sub = subscribe(fresh, app_id, receiver.url())
        ingest(fresh, app_id, ended_call("s", answered=True))
        policy = replace(FAST, timeout=0.3)
        drain_until(fresh, lambda: statuses(fresh, app_id, sub.subscription_id) == ["delivered"], policy)
    delivery = fresh.outbox.deliveries(app_id, sub.subscription_id, None, 10).items[0]
    assert [a.status_code for a in delivery.attempts] == [500, 502, None, 204]
    assert delivery.attempts[2].error is not None and "no answer within" in delivery.attempts[2].error
    assert {r.webhook_id for r in receiver.requests} == {delivery.message_id}
    assert [a.at_ms for a in delivery.attempts] == sorted(a.at_ms for a in delivery.attempts)


def test_order_is_kept_behind_a_failing_head(fresh: Stores, app_id: str) -> None:
    seen: list[str] = []

    def answer(request: Received) -> int:
        seen.append(request.json["data"]["sessionId"])
        return 503 if len(seen) <= 3 else 200

    with running(Receiver(answer=answer)) as receiver:
        sub = subscribe(fresh, app_id, receiver.url(), ("call.ended",))
        for number in range(6):
            ingest(fresh, app_id, ended_call(f"c{number}"))
        drain_until(fresh, lambda: set(statuses(fresh, app_id, sub.subscription_id)) == {"delivered"})
    assert seen == ["c0", "c0", "c0", "c0", "c1", "c2", "c3", "c4", "c5"]


def test_a_410_disables_the_subscription(fresh: Stores, app_id: str) -> None:
    with running(Receiver(answer=lambda request: 410)) as receiver:
        sub = subscribe(fresh, app_id, receiver.url())
        ingest(fresh, app_id, ended_call("gone"))
        drain(fresh)
        ingest(fresh, app_id, ended_call("after"))
        drain(fresh)
        assert len(receiver.requests) == 1
    disabled = fresh.outbox.get(app_id, sub.subscription_id)
    assert not disabled.enabled and disabled.disabled_reason is not None and "410" in disabled.disabled_reason
    assert statuses(fresh, app_id, sub.subscription_id)[-1] == "failed"
    with pytest.raises(Conflict):
        fresh.outbox.retry(app_id, sub.subscription_id, "anything")


def test_a_failing_streak_disables_the_subscription(fresh: Stores, app_id: str) -> None:
    with running(Receiver(answer=lambda request: 503)) as receiver:
        sub = subscribe(fresh, app_id, receiver.url())
        ingest(fresh, app_id, ended_call("down"))
        policy = replace(FAST, disable_after_ms=150)
        drain_until(fresh, lambda: not fresh.outbox.get(app_id, sub.subscription_id).enabled, policy)
        assert len(receiver.requests) >= 2
    reason = fresh.outbox.get(app_id, sub.subscription_id).disabled_reason
    assert reason is not None and reason.startswith("every attempt failed since")
    # enabling it again clears the streak; its pending deliveries are then sent
    fresh.outbox.update(app_id, sub.subscription_id, Changes(enabled=True))
    assert fresh.outbox.get(app_id, sub.subscription_id).disabled_reason is None


def test_replay_sends_a_delivery_again_with_its_webhook_id(fresh: Stores, app_id: str, receiver: Receiver) -> None:
    sub = subscribe(fresh, app_id, receiver.url(), ("call.ended",))
    ingest(fresh, app_id, ended_call("r"))
    drain(fresh)
    delivery = fresh.outbox.deliveries(app_id, sub.subscription_id, None, 10).items[0]
    replayed = fresh.outbox.retry(app_id, sub.subscription_id, delivery.delivery_id)
    assert replayed.status == "pending"
    drain(fresh)
    assert [r.webhook_id for r in receiver.requests] == [delivery.message_id, delivery.message_id]
    assert receiver.requests[0].body == receiver.requests[1].body
    assert len(fresh.outbox.deliveries(app_id, sub.subscription_id, None, 10).items[0].attempts) == 2
    with pytest.raises(DeliveryNotFound):
        fresh.outbox.retry(app_id, sub.subscription_id, "dlv_nope")
    with pytest.raises(WebhookNotFound):
        fresh.outbox.retry(app_id, "wh_nope", delivery.delivery_id)


def test_the_guard_refuses_loopback_receivers(fresh: Stores, app_id: str, receiver: Receiver) -> None:
    sub = subscribe(fresh, app_id, receiver.url())
    ingest(fresh, app_id, ended_call("ssrf"))
    drain(fresh, replace(FAST, allow_private=False))
    assert receiver.requests == []
    attempt = fresh.outbox.deliveries(app_id, sub.subscription_id, None, 10).items[-1].attempts[0]
    assert attempt.status_code is None and attempt.error is not None and "loopback" in attempt.error


def test_deliveries_page_newest_first(fresh: Stores, app_id: str) -> None:
    sub = subscribe(fresh, app_id, "https://receiver.example/h", ("call.ended",))
    for number in range(5):
        ingest(fresh, app_id, ended_call(f"p{number}"))
    seen, before = [], None
    while True:
        page = fresh.outbox.deliveries(app_id, sub.subscription_id, before, 2)
        seen += [orjson.loads(d.payload)["data"]["sessionId"] for d in page.items]
        if page.next_before is None:
            break
        before = page.next_before
    assert seen == ["p4", "p3", "p2", "p1", "p0"]
    fresh.outbox.delete(app_id, sub.subscription_id)
    with pytest.raises(WebhookNotFound):
        fresh.outbox.deliveries(app_id, sub.subscription_id, None, 2)


def test_two_deliverers_never_send_to_one_subscription_at_once(fresh: Stores, app_id: str) -> None:
    with running(Receiver(answer=lambda request: (0.003, 204))) as receiver:
        subs = [subscribe(fresh, app_id, receiver.url(f"/s{n}"), ("call.ended",)) for n in range(3)]
        for number in range(40):
            ingest(fresh, app_id, ended_call(f"t{number}"))
        other = open_stores(fresh.db.url, run_migrations=False)
        # A lease far longer than any stall of a loaded machine: a lease that lapses hands the
        # queue over by design (at least once), which is not what this test is about.
        policy = replace(FAST, batch=5, lease=60)

        def serve(stores: Stores) -> None:
            async def main() -> None:
                with anyio.move_on_after(20):
                    async with anyio.create_task_group() as group:
                        group.start_soon(Deliverer(stores.db, policy).run)
                        while len(receiver.requests) < 120:
                            await anyio.sleep(0.02)
                        group.cancel_scope.cancel()

            anyio.run(main)

        try:
            threads = [threading.Thread(target=serve, args=(stores,)) for stores in (fresh, other)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            other.close()
    assert receiver.max_in_flight == {f"/s{n}": 1 for n in range(3)}
    for sub in subs:
        path = receiver.url(f"/s{subs.index(sub)}").split(str(receiver.port))[1]
        sessions = [r.json["data"]["sessionId"] for r in receiver.requests if r.path == path]
        assert sessions == [f"t{n}" for n in range(40)]  # each once, in commit order
