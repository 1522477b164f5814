"""Per-credential rate limits: one token bucket per API key or user token, per process.

A bucket holds up to ``burst`` tokens and refills at ``rate`` tokens a second; each request
takes one. Buckets are keyed by a hash of the credential the request *presents* (before it is
checked against the database), so a flood is refused without touching the database, and an
unknown key is limited like a known one. The limit is per server process: N processes behind a
load balancer allow up to N times the rate (documented in docs/configuration.md).

Memory is bounded: at most :data:`MAX_BUCKETS` buckets are kept, the least recently used are
dropped first (a dropped bucket comes back full, which only ever errs towards allowing).
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

MAX_BUCKETS = 100_000


#: The headers a decision sets: their names, and the same in lower case as ASGI carries them.
_LIMIT = ("X-RateLimit-Limit", b"x-ratelimit-limit")
_REMAINING = ("X-RateLimit-Remaining", b"x-ratelimit-remaining")
_RESET = ("X-RateLimit-Reset", b"x-ratelimit-reset")
_RETRY_AFTER = ("Retry-After", b"retry-after")


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a request may proceed, and what to tell the client about its budget."""

    allowed: bool
    limit: int
    remaining: int
    #: Seconds until the bucket is full again (``X-RateLimit-Reset``).
    reset_after: int
    #: Seconds until one request is allowed again (``Retry-After``; 0 when allowed).
    retry_after: int

    def _fields(self) -> list[tuple[tuple[str, bytes], int]]:
        """Each header's (name, name as ASGI carries it) and value: what both forms are made of."""
        fields = [(_LIMIT, self.limit), (_REMAINING, self.remaining), (_RESET, self.reset_after)]
        if not self.allowed:
            fields.append((_RETRY_AFTER, self.retry_after))
        return fields

    def headers(self) -> dict[str, str]:
        """The ``X-RateLimit-*`` headers of a response (and ``Retry-After`` when refused)."""
        return {name: str(value) for (name, _), value in self._fields()}

    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """:meth:`headers` as an ASGI message carries them (names in lower case), as every
        admitted request with a credential adds them."""
        return [(raw, b"%d" % value) for (_, raw), value in self._fields()]


class RateLimiter:
    """Token buckets by credential. ``rate`` <= 0 disables limiting."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self.burst = max(1, burst)
        self._clock = clock
        # credential hash -> (tokens, last refill instant)
        self._buckets: OrderedDict[bytes, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """False when configured off (``CALLTRAIL_RATE_LIMIT=0``)."""
        return self.rate > 0

    def take(self, credential: str) -> Decision:
        """Take one token from the credential's bucket."""
        key = hashlib.blake2b(credential.encode(), digest_size=16).digest()
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            allowed = tokens >= 1
            if allowed:
                tokens -= 1
            self._buckets[key] = (tokens, now)
            if len(self._buckets) > MAX_BUCKETS:
                self._buckets.popitem(last=False)
        reset_after = math.ceil((self.burst - tokens) / self.rate)
        retry_after = 0 if allowed else max(1, math.ceil((1 - tokens) / self.rate))
        return Decision(allowed, self.burst, int(tokens), reset_after, retry_after)


def presented_credential(headers: Mapping[str, str]) -> str | None:
    """The secret a request presents, in any dialect: ``apikey``, ``authToken``, or the last word
    of ``Authorization`` (Bird's ``AccessKey <key>``/``Bearer <key>``), so one key has one
    bucket whichever dialect it calls; None when the request presents none."""
    for name in ("apikey", "authtoken"):
        value = headers.get(name, "").strip()
        if value:
            return value
    words = headers.get("authorization", "").split()
    return words[-1] if words else None
