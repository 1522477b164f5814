"""A database taken back to an older schema: what the store's migrations and one-time backfills
must rebuild when it is opened again."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import TypeVar

from calltrail.jobs.feeder import feed_session_demo
from calltrail.kernel.tenancy import new_app_settings
from calltrail.sessions.demo import build_world, generate_calls
from calltrail.store import Stores, open_stores

T = TypeVar("T")


def reopened_after(url: str, statements: tuple[str, ...], dump: Callable[[Stores, str], T]) -> T:
    """Demo calls written through the real writers, then ``statements`` take the database back to
    an older schema: opening it again must give the same ``dump`` (returned, for more checks)."""
    stores = open_stores(url)
    try:
        app_id = stores.tenants.create_app(new_app_settings("Old", f"o-{secrets.token_hex(5)}")).app_id
        calls = generate_calls(
            build_world(2), app_id=app_id, count=150, seed=9, end="2026-03-30T00:00:00Z", span_days=3
        )
        feed_session_demo(stores.sessions, app_id, calls)
        kept = dump(stores, app_id)
        assert kept
        with stores.db.write() as conn:
            for statement in statements:
                conn.execute(statement)
    finally:
        stores.close()
    reopened = open_stores(url)
    try:
        assert dump(reopened, app_id) == kept
    finally:
        reopened.close()
    return kept
