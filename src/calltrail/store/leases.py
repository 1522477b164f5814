"""Work for the webhook deliverer: claiming a subscription's queue under a lease, and recording
what each attempt did.

A subscription's deliveries are sent in commit order (``seq``), one at a time: only the oldest
pending delivery (the *head*) decides when the queue is due. Claiming leases the subscription
(``lease_owner``, ``lease_until``) and returns the head and the pending deliveries behind it,
so two servers never send one subscription's deliveries at the same time; on PostgreSQL the
claim skips subscriptions another server is claiming at that moment (``SKIP LOCKED``), on SQLite
the one writer serialises claims. A server that dies leaves its lease to expire; whatever it had
sent but not recorded is sent again (at least once). Recording renews or releases the lease.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from calltrail.kernel.instants import format_rfc3339, now_ms
from calltrail.store.database import Connection, Database
from calltrail.store.outbox import DELIVERED, FAILED, PENDING, new_id

_DUE = (
    "enabled = 1 AND (lease_until IS NULL OR lease_until < ?) AND ("
    "SELECT d.next_attempt_at FROM webhook_deliveries d WHERE d.app_id = webhook_subscriptions.app_id "
    "AND d.subscription_id = webhook_subscriptions.subscription_id AND d.status = 'pending' "
    "ORDER BY d.seq LIMIT 1) <= ?"
)


@dataclass(frozen=True, slots=True)
class Pending:
    """A delivery to attempt: its payload and how many attempts failed since it was (re)queued."""

    delivery_id: str
    message_id: str
    payload: bytes
    tries: int


@dataclass(frozen=True, slots=True)
class Claim:
    """A leased subscription and its queue, head first."""

    app_id: str
    subscription_id: str
    url: str
    secret: str
    deliveries: list[Pending]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt did. ``retry_at_ms`` is when to try again after a failure (None: the
    delivery has failed for good); ``gone`` is a 410 answer, which disables the subscription."""

    delivery_id: str
    at_ms: int
    duration_ms: int
    status_code: int | None
    error: str | None
    delivered: bool
    retry_at_ms: int | None = None
    gone: bool = False


class LeaseStore:
    """Claims and records work for one deliverer (``owner``: unique per process)."""

    def __init__(self, db: Database, owner: str | None = None):
        self.db = db
        self.owner = owner or new_id("srv_")

    def has_work(self) -> bool:
        """True when some enabled, unleased subscription has a due head (a read: no write lock)."""
        now = now_ms()
        with self.db.read() as conn:
            return conn.fetchone(f"SELECT 1 FROM webhook_subscriptions WHERE {_DUE} LIMIT 1", (now, now)) is not None

    def claim(self, subscriptions: int, batch: int, lease_ms: int) -> list[Claim]:
        """Lease up to ``subscriptions`` due subscriptions; each with up to ``batch`` deliveries."""
        now = now_ms()
        with self.db.write() as conn:
            rows = conn.fetchall(
                f"SELECT app_id, subscription_id, url, secret FROM webhook_subscriptions WHERE {_DUE} "
                f"LIMIT ?{conn.skip_locked('webhook_subscriptions')}",
                (now, now, subscriptions),
            )
            claims = []
            for app_id, sub_id, url, secret in rows:
                conn.execute(
                    "UPDATE webhook_subscriptions SET lease_owner = ?, lease_until = ? "
                    "WHERE app_id = ? AND subscription_id = ?",
                    (self.owner, now + lease_ms, app_id, sub_id),
                )
                queue = conn.fetchall(
                    "SELECT delivery_id, message_id, payload, tries FROM webhook_deliveries "
                    "WHERE app_id = ? AND subscription_id = ? AND status = 'pending' ORDER BY seq LIMIT ?",
                    (app_id, sub_id, batch),
                )
                pending = [Pending(d_id, m_id, bytes(payload), tries) for d_id, m_id, payload, tries in queue]
                claims.append(Claim(app_id, sub_id, url, secret, pending))
        return claims

    def record(self, claim: Claim, outcomes: Sequence[Outcome], *, renew_ms: int | None, disable_after_ms: int) -> bool:
        """Record attempts, then renew the lease by ``renew_ms`` (None: release it). A failing
        streak of ``disable_after_ms`` or a 410 disables the subscription. Returns True while
        the lease is still this deliverer's and the subscription enabled (go on sending)."""
        with self.db.write() as conn:
            self._record_attempts(conn, claim.app_id, outcomes)
            self._streak(conn, claim, outcomes, disable_after_ms)
            if renew_ms is None:
                conn.execute(
                    "UPDATE webhook_subscriptions SET lease_owner = NULL, lease_until = NULL "
                    "WHERE app_id = ? AND subscription_id = ? AND lease_owner = ?",
                    (claim.app_id, claim.subscription_id, self.owner),
                )
                return False
            held = conn.execute(
                "UPDATE webhook_subscriptions SET lease_until = ? "
                "WHERE app_id = ? AND subscription_id = ? AND lease_owner = ? AND enabled = 1",
                (now_ms() + renew_ms, claim.app_id, claim.subscription_id, self.owner),
            ).rowcount
            return bool(held)

    @staticmethod
    def _record_attempts(conn: Connection, app_id: str, outcomes: Sequence[Outcome]) -> None:
        conn.executemany(
            "INSERT INTO webhook_attempts (app_id, delivery_id, attempt_id, at, status_code, error, duration_ms) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(app_id, o.delivery_id, new_id("att_"), o.at_ms, o.status_code, o.error, o.duration_ms) for o in outcomes],
        )
        # Only a pending delivery changes: one replayed meanwhile keeps its fresh schedule.
        conn.executemany(
            "UPDATE webhook_deliveries SET status = ?, tries = tries + 1, next_attempt_at = ? "
            "WHERE app_id = ? AND delivery_id = ? AND status = ?",
            [(*_next_state(o), app_id, o.delivery_id, PENDING) for o in outcomes],
        )

    @staticmethod
    def _streak(conn: Connection, claim: Claim, outcomes: Sequence[Outcome], disable_after_ms: int) -> None:
        """Track the subscription's failing streak; disable it on a 410 or a streak too long."""
        if not outcomes:
            return
        key = (claim.app_id, claim.subscription_id)
        last = outcomes[-1]
        if last.delivered:
            conn.execute(
                "UPDATE webhook_subscriptions SET failing_since = NULL WHERE app_id = ? AND subscription_id = ?", key
            )
            return
        # A success earlier in this batch ends the previous streak: this failure starts a new one.
        since_sql = "?" if any(o.delivered for o in outcomes) else "COALESCE(failing_since, ?)"
        conn.execute(
            f"UPDATE webhook_subscriptions SET failing_since = {since_sql} WHERE app_id = ? AND subscription_id = ?",
            (last.at_ms, *key),
        )
        row = conn.fetchone(
            "SELECT failing_since FROM webhook_subscriptions WHERE app_id = ? AND subscription_id = ?", key
        )
        since = int(row[0]) if row and row[0] is not None else last.at_ms
        reason = None
        if last.gone:
            reason = "the receiver answered 410 Gone"
        elif last.at_ms - since >= disable_after_ms:
            reason = f"every attempt failed since {format_rfc3339(since)}"
        if reason is not None:
            conn.execute(
                "UPDATE webhook_subscriptions SET enabled = 0, disabled_reason = ?, disabled_at = ? "
                "WHERE app_id = ? AND subscription_id = ? AND enabled = 1",
                (reason, last.at_ms, *key),
            )


def _next_state(outcome: Outcome) -> tuple[str, int]:
    """A delivery's status and next attempt time after ``outcome``."""
    if outcome.delivered:
        return DELIVERED, outcome.at_ms
    if outcome.retry_at_ms is None or outcome.gone:
        return FAILED, outcome.at_ms
    return PENDING, outcome.retry_at_ms
