"""The durable outbox of outbound webhooks: subscriptions, deliveries and their attempts.

The row writers of both call domains call :func:`raise_session_events` / :func:`raise_voice_events`
inside their write transaction, before overwriting a call: the previous record is read there,
compared with the new one (:mod:`calltrail.outbound.events`), and one delivery per event and
listening subscription is inserted. So a delivery commits with the change that raises it: a
``kill -9`` at any instant loses none, and a rolled-back change sends none.

Sending is :mod:`calltrail.jobs.deliverer`'s; it claims work through :mod:`calltrail.store.leases`.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from calltrail.kernel.errors import Conflict, DeliveryNotFound, WebhookNotFound
from calltrail.kernel.instants import format_rfc3339, now_ms
from calltrail.outbound.events import Raised, body, session_events, voice_events, wanted
from calltrail.outbound.signing import new_secret
from calltrail.outbound.subscriptions import Changes, NewSubscription
from calltrail.sessions.record import merge_record
from calltrail.sessions.vocabulary import FINAL_STATUSES, CallRow
from calltrail.store.database import Connection, Database, chunks
from calltrail.voice.record import ChannelCallRow
from calltrail.voice.vocabulary import TERMINAL_STATUSES

DELIVERY_COLUMNS = (
    "app_id",
    "delivery_id",
    "subscription_id",
    "seq",
    "message_id",
    "event_type",
    "payload",
    "created_at",
    "status",
    "tries",
    "next_attempt_at",
)
_SUBSCRIPTION_COLUMNS = (
    "subscription_id, url, events, description, secret, enabled, disabled_reason, disabled_at, created_at, updated_at"
)
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


@dataclass(frozen=True, slots=True)
class Subscription:
    """A webhook subscription of an app."""

    app_id: str
    subscription_id: str
    url: str
    events: tuple[str, ...]
    description: str
    secret: str
    enabled: bool
    disabled_reason: str | None
    disabled_at_ms: int | None
    created_at_ms: int
    updated_at_ms: int


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt to deliver: when, the HTTP status or the network error, how long it took."""

    at_ms: int
    status_code: int | None
    error: str | None
    duration_ms: int


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event for one subscription, with every attempt so far (oldest first)."""

    delivery_id: str
    message_id: str
    event_type: str
    status: str
    created_at_ms: int
    next_attempt_at_ms: int | None
    attempts: list[Attempt]
    payload: bytes


@dataclass(frozen=True, slots=True)
class DeliveryPage:
    """Deliveries newest first, and the position after the last one when more exist."""

    items: list[Delivery]
    next_before: int | None


def new_id(prefix: str) -> str:
    """A random id: ``prefix`` and 24 hex digits."""
    return prefix + secrets.token_hex(12)


def _new_ids(prefix: str, count: int) -> list[str]:
    """``count`` random ids from one draw of the system's randomness (cheaper per id)."""
    pool = secrets.token_hex(12 * count)
    return [prefix + pool[24 * i : 24 * i + 24] for i in range(count)]


def _subscription(app_id: str, row: Sequence[Any]) -> Subscription:
    sub_id, url, events, description, secret, enabled, reason, disabled_at, created, updated = row
    return Subscription(
        app_id, sub_id, url, tuple(orjson.loads(events)), description, secret, bool(enabled), reason,
        disabled_at, created, updated,
    )  # fmt: skip


# -- raising events inside the writers' transactions ---------------------------------------


def _listening(conn: Connection, app_id: str) -> list[tuple[str, tuple[str, ...]]]:
    rows = conn.fetchall(
        "SELECT subscription_id, events FROM webhook_subscriptions WHERE app_id = ? AND enabled = 1 "
        "ORDER BY created_at, subscription_id",
        (app_id,),
    )
    return [(sub_id, tuple(orjson.loads(events))) for sub_id, events in rows]


def raise_session_events(conn: Connection, app_id: str, rows: Sequence[CallRow]) -> None:
    """Append the deliveries that writing ``rows`` raises (call it before the rows are written)."""
    listening = _listening(conn, app_id)
    # Only a call that is over, or has a recording, can raise an event.
    candidates = [row for row in rows if row.status in FINAL_STATUSES or row.has_recording]
    if not listening or not candidates:
        return
    previous: dict[str, dict[str, Any]] = {}
    missed: dict[str, set[str]] = {}
    for part in chunks([row.session_id for row in candidates]):
        among, values = conn.any_of("session_id", part)
        for session_id, summary, extra in conn.fetchall(
            f"SELECT session_id, summary, extra FROM calls WHERE app_id = ? AND {among}", (app_id, *values)
        ):
            previous[session_id] = merge_record(bytes(summary), bytes(extra) if extra is not None else None)
        for session_id, uid in conn.fetchall(
            f"SELECT session_id, uid FROM call_members WHERE app_id = ? AND missed = 1 AND {among}", (app_id, *values)
        ):
            missed.setdefault(session_id, set()).add(uid)
    raised: list[Raised] = []
    for row in candidates:
        after = merge_record(row.summary, row.extra)
        now_missed = [member.uid for member in row.members if member.missed]
        raised += session_events(previous.get(row.session_id), after, missed.get(row.session_id, set()), now_missed)
    _append(conn, app_id, listening, raised)


def raise_voice_events(conn: Connection, app_id: str, rows: Sequence[ChannelCallRow]) -> None:
    """Append the deliveries that writing phone-call ``rows`` raises (before they are written)."""
    listening = _listening(conn, app_id)
    candidates = [row for row in rows if row.status in TERMINAL_STATUSES]
    if not listening or not candidates:
        return
    before: dict[str, dict[str, Any]] = {}
    for part in chunks([row.call_id for row in candidates]):
        among, values = conn.any_of("call_id", part)
        for call_id, status in conn.fetchall(
            f"SELECT call_id, status FROM channel_calls WHERE app_id = ? AND {among}", (app_id, *values)
        ):
            before[call_id] = {"status": status}
    raised: list[Raised] = []
    for row in candidates:
        raised += voice_events(before.get(row.call_id), orjson.loads(row.body))
    _append(conn, app_id, listening, raised)


def _append(conn: Connection, app_id: str, listening: list[tuple[str, tuple[str, ...]]], raised: list[Raised]) -> None:
    """One delivery per raised event and subscription that wants it, in the order raised."""
    now = now_ms()
    planned: list[tuple[str, str, str, bytes]] = []
    stamp = format_rfc3339(now)
    for event, message_id in zip(raised, _new_ids("msg_", len(raised)), strict=True):
        payload = body(event, stamp)
        subscribers = [sub_id for sub_id, types in listening if wanted(types, event.type)]
        planned += [(sub_id, message_id, event.type, payload) for sub_id in subscribers]
    if not planned:
        return
    serials = conn.next_serials("webhook_deliveries", "seq", len(planned))
    rows = [
        (app_id, delivery_id, sub_id, seq, message_id, event_type, payload, now, PENDING, 0, now)
        for seq, delivery_id, (sub_id, message_id, event_type, payload) in zip(
            serials, _new_ids("dlv_", len(planned)), planned, strict=True
        )
    ]
    conn.insert_rows("webhook_deliveries", DELIVERY_COLUMNS, rows)


# -- subscriptions and their deliveries ----------------------------------------------------


class OutboxStore:
    """Webhook subscriptions and their deliveries, for the API and the CLI."""

    def __init__(self, db: Database):
        self.db = db

    def create(self, app_id: str, new: NewSubscription) -> Subscription:
        """Create an enabled subscription with a fresh secret."""
        now = now_ms()
        sub = Subscription(
            app_id, new_id("wh_"), new.url, new.events, new.description, new_secret(), True, None, None, now, now
        )
        with self.db.write() as conn:
            conn.execute(
                f"INSERT INTO webhook_subscriptions (app_id, {_SUBSCRIPTION_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (app_id, sub.subscription_id, sub.url, orjson.dumps(list(sub.events)).decode(), sub.description,
                 sub.secret, 1, None, None, now, now),
            )  # fmt: skip
        return sub

    def list_subscriptions(self, app_id: str) -> list[Subscription]:
        """Every subscription of an app, oldest first."""
        with self.db.read() as conn:
            rows = conn.fetchall(
                f"SELECT {_SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions WHERE app_id = ? "
                "ORDER BY created_at, subscription_id",
                (app_id,),
            )
        return [_subscription(app_id, row) for row in rows]

    def get(self, app_id: str, subscription_id: str) -> Subscription:
        """One subscription; raises :class:`WebhookNotFound`."""
        with self.db.read() as conn:
            return self._get(conn, app_id, subscription_id)

    @staticmethod
    def _get(conn: Connection, app_id: str, subscription_id: str) -> Subscription:
        row = conn.fetchone(
            f"SELECT {_SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions WHERE app_id = ? AND subscription_id = ?",
            (app_id, subscription_id),
        )
        if row is None:
            raise WebhookNotFound(f"There is no webhook with id {subscription_id!r}.")
        return _subscription(app_id, row)

    def update(self, app_id: str, subscription_id: str, changes: Changes) -> Subscription:
        """Apply a checked ``PATCH``. Enabling a subscription clears why it was disabled and its
        failing streak; its pending deliveries are then sent."""
        assignments: list[tuple[str, Any]] = [("updated_at", now_ms())]
        if changes.url is not None:
            assignments.append(("url", changes.url))
        if changes.events is not None:
            assignments.append(("events", orjson.dumps(list(changes.events)).decode()))
        if changes.description is not None:
            assignments.append(("description", changes.description))
        if changes.enabled is True:
            assignments += [("enabled", 1), ("disabled_reason", None), ("disabled_at", None), ("failing_since", None)]
        elif changes.enabled is False:
            assignments += [("enabled", 0), ("disabled_reason", "disabled by request"), ("disabled_at", now_ms())]
        with self.db.write() as conn:
            self._get(conn, app_id, subscription_id)
            conn.execute(
                f"UPDATE webhook_subscriptions SET {', '.join(f'{name} = ?' for name, _ in assignments)} "
                "WHERE app_id = ? AND subscription_id = ?",
                (*(value for _, value in assignments), app_id, subscription_id),
            )
            return self._get(conn, app_id, subscription_id)

    def delete(self, app_id: str, subscription_id: str) -> None:
        """Delete a subscription with its deliveries and their attempts."""
        with self.db.write() as conn:
            self._get(conn, app_id, subscription_id)
            conn.execute(
                "DELETE FROM webhook_attempts WHERE app_id = ? AND delivery_id IN "
                "(SELECT delivery_id FROM webhook_deliveries WHERE app_id = ? AND subscription_id = ?)",
                (app_id, app_id, subscription_id),
            )
            conn.execute(
                "DELETE FROM webhook_deliveries WHERE app_id = ? AND subscription_id = ?", (app_id, subscription_id)
            )
            conn.execute(
                "DELETE FROM webhook_subscriptions WHERE app_id = ? AND subscription_id = ?", (app_id, subscription_id)
            )

    def deliveries(self, app_id: str, subscription_id: str, before: int | None, limit: int) -> DeliveryPage:
        """Up to ``limit`` deliveries newest first (commit order reversed), before position
        ``before`` when given; raises :class:`WebhookNotFound`."""
        with self.db.read() as conn:
            self._get(conn, app_id, subscription_id)
            rows = conn.fetchall(
                "SELECT seq, delivery_id, message_id, event_type, status, created_at, next_attempt_at, payload "
                "FROM webhook_deliveries WHERE app_id = ? AND subscription_id = ? AND seq < ? "
                "ORDER BY seq DESC LIMIT ?",
                (app_id, subscription_id, before if before is not None else 2**62, limit + 1),
            )
            more = len(rows) > limit
            rows = rows[:limit]
            attempts = self._attempts(conn, app_id, [row[1] for row in rows])
        items = [
            Delivery(
                delivery_id, message_id, event_type, status, created, next_at if status == PENDING else None,
                attempts.get(delivery_id, []), bytes(payload),
            )
            for _, delivery_id, message_id, event_type, status, created, next_at, payload in rows
        ]  # fmt: skip
        return DeliveryPage(items, int(rows[-1][0]) if more else None)

    @staticmethod
    def _attempts(conn: Connection, app_id: str, delivery_ids: Sequence[str]) -> dict[str, list[Attempt]]:
        found: dict[str, list[Attempt]] = {}
        for part in chunks(delivery_ids):
            among, values = conn.any_of("delivery_id", part)
            for delivery_id, at, status_code, error, duration in conn.fetchall(
                "SELECT delivery_id, at, status_code, error, duration_ms FROM webhook_attempts "
                f"WHERE app_id = ? AND {among} ORDER BY at, attempt_id",
                (app_id, *values),
            ):
                found.setdefault(delivery_id, []).append(Attempt(at, status_code, error, duration))
        return found

    def retry(self, app_id: str, subscription_id: str, delivery_id: str) -> Delivery:
        """Send a delivery again now, whatever its status, with a fresh retry schedule. It keeps
        its place in its subscription's commit order, so it goes before later pending ones."""
        with self.db.write() as conn:
            sub = self._get(conn, app_id, subscription_id)
            if not sub.enabled:
                raise Conflict("The webhook is disabled: enable it first (PATCH enabled=true).")
            now = now_ms()
            changed = conn.execute(
                "UPDATE webhook_deliveries SET status = ?, tries = 0, next_attempt_at = ? "
                "WHERE app_id = ? AND subscription_id = ? AND delivery_id = ?",
                (PENDING, now, app_id, subscription_id, delivery_id),
            ).rowcount
            if not changed:
                raise DeliveryNotFound(f"There is no delivery with id {delivery_id!r} for this webhook.")
            row = conn.fetchone(
                "SELECT message_id, event_type, created_at, payload FROM webhook_deliveries "
                "WHERE app_id = ? AND delivery_id = ?",
                (app_id, delivery_id),
            )
            attempts = self._attempts(conn, app_id, [delivery_id])
        assert row is not None  # updated just above, in this transaction
        message_id, event_type, created, payload = row
        return Delivery(
            delivery_id, message_id, event_type, PENDING, created, now, attempts.get(delivery_id, []), bytes(payload)
        )
