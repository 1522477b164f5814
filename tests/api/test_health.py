"""The /healthz probe's cache of database pings, with a clock the test moves."""

from __future__ import annotations

import asyncio
import threading

from calltrail.api.health import FRESH_FOR, STALE_LIMIT, HealthProbe
from calltrail.kernel.errors import Unavailable


class Pings:
    """A ping that counts its calls, and that a test can hold until it lets it go."""

    def __init__(self) -> None:
        self.count = 0
        self.done = threading.Event()
        self.go = threading.Event()
        self.go.set()
        self.failing = False

    def __call__(self) -> None:
        self.go.wait(10)
        self.count += 1
        self.done.set()
        if self.failing:
            raise Unavailable("the database is gone")


def test_the_first_ping_starts_with_the_probe_so_the_first_check_finds_an_answer() -> None:
    pings, now = Pings(), [100.0]
    probe = HealthProbe(pings, clock=lambda: now[0])
    try:
        assert pings.done.wait(10)  # no check has asked yet
        health = asyncio.run(probe.check())
        assert (health.ok, health.stale, pings.count) == (True, False, 1)
    finally:
        probe.close()


def test_answers_are_reused_while_fresh_then_refreshed_behind_a_stale_answer() -> None:
    pings, now = Pings(), [100.0]
    probe = HealthProbe(pings, clock=lambda: now[0])
    try:
        assert pings.done.wait(10)
        pings.done.clear()
        now[0] += FRESH_FOR / 2
        assert asyncio.run(probe.check()).ok and pings.count == 1
        pings.go.clear()  # the next ping hangs: the probe still answers at once
        now[0] += FRESH_FOR
        health = asyncio.run(probe.check())
        assert (health.ok, health.stale) == (True, True)
        pings.go.set()
        assert pings.done.wait(10) and pings.count == 2
    finally:
        probe.close()


def test_a_failed_ping_is_reported_and_an_old_answer_is_not_trusted() -> None:
    pings, now = Pings(), [100.0]
    pings.failing = True
    probe = HealthProbe(pings, clock=lambda: now[0])
    try:
        assert pings.done.wait(10)
        health = asyncio.run(probe.check())
        assert (health.ok, health.error) == (False, "the database is gone")
        pings.failing, now[0] = False, now[0] + STALE_LIMIT  # too old to answer for a new ping
        assert asyncio.run(probe.check()).ok
    finally:
        probe.close()
