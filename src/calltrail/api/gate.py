"""The decisions taken before a request runs: refuse it (431, 503, 429) or let it in.

One :class:`Gate` per app, used twice: by the HTTP protocol of ``calltrail serve``
(:mod:`calltrail.api.server`), which answers a refusal straight from the parser at a few
microseconds each (no task, no middleware), and by the :mod:`calltrail.api.guard` middleware for
requests that reach the app any other way (in-process tests, other ASGI servers). A request the
protocol let in carries its decision in the scope, so it is never counted twice.

* **Load shedding.** At most ``max_in_flight`` requests are worked on at once; one more is
  refused at once with 503 and ``Retry-After: 1`` instead of joining an unbounded queue.
* **Rate limits.** Each presented credential has a token bucket (:mod:`calltrail.api.ratelimit`).

``/healthz`` and ``/metrics`` are never refused: monitoring must see a saturated server.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.responses import Response

from calltrail.api.metrics import Metrics
from calltrail.api.ratelimit import Decision, RateLimiter
from calltrail.kernel.errors import CalltrailError, Overloaded, TooManyRequests

#: Paths that are never shed nor rate limited.
EXEMPT = frozenset(("/healthz", "/metrics"))
#: The scope extension under which the protocol hands its decision to the middleware.
ADMITTED = "calltrail.admitted"
ErrorRenderer = Callable[[str, CalltrailError], Response]


@dataclass(frozen=True)
class GateSettings:
    """The limits of one process (see :class:`calltrail.settings.Settings`)."""

    max_in_flight: int = 32
    rate_limit: float = 200.0
    rate_burst: int = 400


@dataclass(frozen=True, slots=True)
class Admission:
    """A request let in, with its credential's rate-limit state (None: no credential)."""

    decision: Decision | None


#: The admission of a request the rate limit does not apply to (shared: it holds nothing).
UNLIMITED = Admission(None)


class Gate:
    """Refuses what a process cannot or may not take; see the module docstring."""

    def __init__(self, settings: GateSettings, metrics: Metrics, render: ErrorRenderer):
        self.max_in_flight = settings.max_in_flight
        self.limiter = RateLimiter(settings.rate_limit, settings.rate_burst)
        self.metrics = metrics
        self.render = render
        # Every shed request gets the same answer: one error, rendered once per dialect by the
        # protocol, rather than a new one per refusal (a flood makes thousands a second).
        self.overloaded = Overloaded(retry_after=1)
        self._clock = time.monotonic
        self._last_refused = -math.inf

    #: For how long after a refusal the process counts as refusing (see :meth:`refusing`).
    REFUSING_FOR = 1.0

    def refusing(self) -> bool:
        """Whether a request was refused (shed or rate limited) within :attr:`REFUSING_FOR`
        seconds: the process is offered more than it admits, and its event loop's time goes to
        answering (reads then go to the worker threads, see :func:`calltrail.api.http.run_read`)."""
        return self._clock() - self._last_refused < self.REFUSING_FOR

    def check(self, path: str, credential: str | None, in_flight: int) -> CalltrailError | Admission:
        """Refuse (the error to answer) or admit a request, given how many are in flight."""
        return self.admit(path, in_flight, lambda: credential)

    def admit(self, path: str, in_flight: int, credential: Callable[[], str | None]) -> CalltrailError | Admission:
        """:meth:`check`, reading the presented credential only if the rate limit needs it (a
        shed request never does)."""
        if path in EXEMPT:
            return UNLIMITED
        if in_flight >= self.max_in_flight:
            self.metrics.shed += 1
            self._last_refused = self._clock()
            return self.overloaded
        presented = credential() if self.limiter.enabled else None
        if presented is None:
            return UNLIMITED
        decision = self.limiter.take(presented)
        if not decision.allowed:
            self.metrics.rate_limited += 1
            self._last_refused = self._clock()
            return TooManyRequests(decision.retry_after, decision.headers())
        return Admission(decision)
