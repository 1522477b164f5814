"""The backlog settler: a loop inside ``calltrail serve`` that recomputes the usage rollups'
backlog (``store/usage_backlog.py``) soon after the writes that marked it.

Writes only mark the rollup slots and keys they change; a read of the rollups recomputes what is
marked before it reads. Left for the read, a quiet hour's marks would make its first read wait for
them all. Every :data:`INTERVAL` seconds this loop recomputes each app's backlog on a worker
thread, one app per transaction, so a read finds at most a few seconds of marks. Several servers
on one database may settle at once: each recompute runs under the app's rollup lock and clears
what it recomputed, so the next finds nothing to do. A failing round is logged and retried at
the next interval; stopping the server cancels the loop between apps.
"""

from __future__ import annotations

import logging
from contextlib import AbstractAsyncContextManager

import anyio
import anyio.to_thread

from calltrail.jobs.background import in_background
from calltrail.store.database import Database
from calltrail.store.stats import USAGE_BACKLOG_MARKS
from calltrail.store.usage_backlog import settle, tidy, waiting_marks

log = logging.getLogger("calltrail.settler")
#: Seconds between rounds: the most a read's settling waits for is about this long's marks.
INTERVAL = 2.0


async def settle_forever(db: Database, interval: float = INTERVAL) -> None:
    """Settle every app's backlog every ``interval`` seconds, until cancelled. The marks found
    waiting at each round are ``/metrics``' ``calltrail_usage_backlog_marks``."""
    while True:
        try:
            waiting = await anyio.to_thread.run_sync(waiting_marks, db)
            db.stats.set(USAGE_BACKLOG_MARKS, sum(waiting.values()))
            for app_id in waiting:
                await anyio.to_thread.run_sync(settle, db, app_id)
            if waiting:
                await anyio.to_thread.run_sync(tidy, db)  # the marks just deleted
        except Exception:
            log.exception("settling the usage rollups failed; retrying in %.0f s", interval)
        await anyio.sleep(interval)


def settling(db: Database, interval: float = INTERVAL) -> AbstractAsyncContextManager[None]:
    """Run the settler in the background for the duration of the block; stop it cleanly."""
    return in_background(settle_forever, db, interval)
