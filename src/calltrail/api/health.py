"""``/healthz`` that answers within a second at any load.

The database ping runs on a thread of its own, never queued behind the request worker pool,
and its answer is cached for :data:`FRESH_FOR` seconds, so a storm of probes costs one ping a
second. An older answer is refreshed in the background while the probe is answered at once from
it (marked ``stale`` unless fresh), provided it is younger than :data:`STALE_LIMIT`: a saturated
server, whose ping thread waits for the interpreter like every other thread, is not reported
dead to its load balancer. Only without a usable answer does a probe wait, :data:`WAIT` at most.

The first ping starts when the probe is made (with the app, before the server listens), so
the first probes find an answer even when the load arrives with them: otherwise each waited for
a ping queued behind a saturated server's work, and the first seconds of an overload timed out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from calltrail.kernel.errors import CalltrailError

#: How long a ping's answer is reused.
FRESH_FOR = 1.0
#: How long a probe without a usable earlier answer waits for a ping in progress (the rest of
#: the second a probe may take is for the event loop to get to it, under load).
WAIT = 0.5
#: How old the last completed ping may be to answer for a ping still running.
STALE_LIMIT = 30.0


@dataclass(frozen=True)
class Health:
    """The outcome of one ping."""

    ok: bool
    error: str | None
    at: float
    stale: bool = False


class HealthProbe:
    """Pings the database on a dedicated thread; shares and caches the answers."""

    def __init__(self, ping: Callable[[], None], clock: Callable[[], float] = time.monotonic):
        self._ping = ping
        self._clock = clock
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="calltrail-health")
        self._last: Health | None = None
        self._running: Future[Health] | None = None
        self._refresh()  # the first answer is ready before the first probe (see the module docstring)

    def _blocking_ping(self) -> Health:
        try:
            self._ping()
            health = Health(True, None, self._clock())
        except CalltrailError as exc:  # the store reports any database failure as Unavailable
            health = Health(False, exc.message, self._clock())
        self._last = health  # before the ping's future is done: whoever sees it done sees this
        return health

    def _refresh(self) -> Future[Health]:
        """The ping in progress, started now unless one is running."""
        running = self._running
        if running is None or running.done():
            running = self._running = self._executor.submit(self._blocking_ping)
        return running

    async def check(self) -> Health:
        """The database's health, from a fresh or recent ping."""
        now = self._clock()
        last = self._last
        if last is not None and now - last.at < FRESH_FOR:
            return last
        running = self._refresh()
        if last is not None and last.ok and now - last.at < STALE_LIMIT:
            return Health(True, None, last.at, stale=True)  # refreshed in the background
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(running)), WAIT)
        except TimeoutError:
            return Health(False, f"the database did not answer within {WAIT} s", now)

    def close(self) -> None:
        """Stop the ping thread (a ping in progress finishes on its own)."""
        self._executor.shutdown(wait=False)
