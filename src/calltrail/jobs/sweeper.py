"""The retention sweeper: a loop inside ``calltrail serve`` that deletes calls older than each
app's retention period (``calltrail apps update --retention-days``).

Every :data:`INTERVAL` seconds it deletes, app by app, the calls initiated (or, for phone calls,
created) more than ``retention_days`` ago, through :class:`calltrail.store.lifecycle.Purger`: one
short transaction of at most 500 calls (SQLite) or 32 (PostgreSQL) at a time, on a worker
thread, with a pause between batches, so ingestion and reads go on meanwhile. Several servers
on one database may sweep at once: each batch re-checks its calls under their stream locks, so
a call is deleted once.
A failing round is logged and retried after 5 s; stopping the server cancels the loop
between batches (a batch in progress commits or rolls back as a whole).
"""

from __future__ import annotations

import logging
from contextlib import AbstractAsyncContextManager

import anyio
import anyio.to_thread

from calltrail.jobs.background import in_background
from calltrail.kernel.instants import now_ms
from calltrail.store import Stores
from calltrail.store.lifecycle import DAY_MS, Purger, retained_apps

log = logging.getLogger("calltrail.sweeper")
#: Seconds between sweeps.
INTERVAL = 300.0
#: Seconds before a failed sweep is tried again.
RETRY = 5.0
#: Seconds between two batches of one sweep: the writer is free for others in between.
PAUSE = 0.05


def sweep_once(stores: Stores, at_ms: int | None = None) -> int:
    """Delete every call past its app's retention (blocking); returns how many were deleted."""
    now = now_ms() if at_ms is None else at_ms
    deleted = 0
    for retention in retained_apps(stores.db):
        purger = Purger(stores.sessions, stores.voice, retention.app_id, now - retention.days * DAY_MS)
        deleted += purger.run()
    return deleted


async def _sweep(stores: Stores) -> int:
    now = now_ms()
    deleted = 0
    for retention in await anyio.to_thread.run_sync(retained_apps, stores.db):
        purger = Purger(stores.sessions, stores.voice, retention.app_id, now - retention.days * DAY_MS)
        while done := await anyio.to_thread.run_sync(purger.step):
            deleted += done
            await anyio.sleep(PAUSE)
    return deleted


async def sweep_forever(stores: Stores, interval: float = INTERVAL) -> None:
    """Sweep now, then every ``interval`` seconds, until cancelled."""
    while True:
        wait = interval
        try:
            deleted = await _sweep(stores)
            if deleted:
                log.info("retention: deleted %d calls", deleted)
        except Exception:
            # A busy or unreachable database: try again soon rather than a whole interval later.
            wait = min(interval, RETRY)
            log.exception("retention sweep failed; retrying in %.0f s", wait)
        await anyio.sleep(wait)


def sweeping(stores: Stores, interval: float = INTERVAL) -> AbstractAsyncContextManager[None]:
    """Run the sweeper in the background for the duration of the block; stop it cleanly."""
    return in_background(sweep_forever, stores, interval)
