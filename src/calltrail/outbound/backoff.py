"""The retry schedule of a delivery that failed: exponential, with jitter, for more than a day.

An attempt that does not get a 2xx answer within the timeout is retried after
:data:`SCHEDULE` ``[n]`` (n = failures so far, from 0), each delay spread by ±:data:`JITTER`
so that many deliveries failing together do not retry together. After the last delay the
delivery is ``failed`` (it can still be replayed by hand). The first retry comes after about
5 s; the retries span about 32 hours, at least 24 hours even when every jitter draws low.
"""

from __future__ import annotations

import random

SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
#: Delay before retry n+1 after n+1 failed attempts, in milliseconds.
SCHEDULE: tuple[int, ...] = (
    5 * SECOND,
    30 * SECOND,
    2 * MINUTE,
    10 * MINUTE,
    30 * MINUTE,
    1 * HOUR,
    2 * HOUR,
    4 * HOUR,
    8 * HOUR,
    8 * HOUR,
    8 * HOUR,
)
#: Each delay is multiplied by a random factor in [1 - JITTER, 1 + JITTER].
JITTER = 0.2
#: Attempts in all: the first one and one per delay.
MAX_ATTEMPTS = len(SCHEDULE) + 1


def retry_delay(failures: int, *, scale: float = 1.0, rng: random.Random | None = None) -> int | None:
    """Milliseconds to wait after the ``failures``-th failed attempt (1-based), or None when the
    delivery has failed for good. ``scale`` shrinks the schedule (tests use it)."""
    if failures < 1 or failures > len(SCHEDULE):
        return None
    factor = 1 + (rng or random).uniform(-JITTER, JITTER)
    return max(1, round(SCHEDULE[failures - 1] * factor * scale))
