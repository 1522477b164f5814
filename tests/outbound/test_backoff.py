"""The retry schedule."""

from __future__ import annotations

import random

from calltrail.outbound.backoff import JITTER, MAX_ATTEMPTS, SCHEDULE, retry_delay

DAY_MS = 86_400_000


def test_the_first_retry_comes_within_about_five_seconds() -> None:
    rng = random.Random(1)
    delays = [retry_delay(1, rng=rng) for _ in range(200)]
    assert all(d is not None and 4000 <= d <= 6000 for d in delays)
    assert len(set(delays)) > 100  # jittered


def test_delays_grow_and_span_more_than_a_day_even_when_jitter_draws_low() -> None:
    assert list(SCHEDULE) == sorted(SCHEDULE)
    assert sum(SCHEDULE) * (1 - JITTER) >= DAY_MS
    assert retry_delay(MAX_ATTEMPTS - 1) is not None
    assert retry_delay(MAX_ATTEMPTS) is None
    assert retry_delay(0) is None


def test_scale_shrinks_the_schedule_for_tests() -> None:
    delay = retry_delay(1, scale=0.001, rng=random.Random(2))
    assert delay is not None and 1 <= delay <= 6
