"""The webhook deliverer: a loop inside ``calltrail serve`` that sends the outbox's deliveries.

Each round claims due subscriptions (:mod:`calltrail.store.leases`) and sends each one's queue
in commit order, one request at a time, while other subscriptions are served concurrently, so
one slow receiver holds up only itself. An attempt is a success when the receiver answers 2xx
within the timeout (10 s); anything else (another status, a redirect, which is never followed,
a network error, a timeout, a URL the guard refuses) is retried on the schedule of
:mod:`calltrail.outbound.backoff`, and the queue behind it waits, so order is kept. A 410
disables the subscription; so does a failing streak of five days.

Results are recorded in batches, renewing the lease, and at the end of each queue. Stopping
(server shutdown) lets each request in flight finish (within the timeout), records what was
done and releases the leases. A request lost to ``kill -9`` is sent again once its lease has
expired: delivery is at least once, which receivers handle with the stable ``webhook-id``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
import anyio.abc
import anyio.to_thread
import httpx

from calltrail import __version__
from calltrail.kernel.instants import now_ms
from calltrail.outbound import guard, signing
from calltrail.outbound.backoff import retry_delay
from calltrail.settings import Settings
from calltrail.store.database import Database
from calltrail.store.leases import Claim, LeaseStore, Outcome, Pending

log = logging.getLogger("calltrail.deliverer")
DAY_MS = 86_400_000
#: Bytes of a receiver's answer read (and ignored) at most; the rest is not waited for.
MAX_ANSWER_BYTES = 65_536
MAX_ERROR_LENGTH = 500


@dataclass(frozen=True)
class Policy:
    """How the deliverer sends: the defaults are the documented behaviour; tests shrink them."""

    timeout: float = 10.0
    retry_scale: float = 1.0
    lease: float = 60.0
    disable_after_ms: int = 5 * DAY_MS
    allow_private: bool = False
    #: Subscriptions served at once by one server, and deliveries claimed per subscription.
    concurrency: int = 16
    batch: int = 200
    #: Seconds between looks for due work when there was none.
    poll_interval: float = 0.1

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        """The policy ``calltrail serve`` runs with (``CALLTRAIL_WEBHOOKS_*``)."""
        timeout = max(settings.webhooks_timeout, 0.001)
        return cls(
            timeout=timeout,
            retry_scale=settings.webhooks_retry_scale,
            # The lease must outlast any request between two renewals (see renew_every).
            lease=max(settings.webhooks_lease, 8 * timeout),
            allow_private=settings.webhooks_allow_private,
        )

    @property
    def renew_every(self) -> float:
        """Seconds of sending after which results are recorded and the lease renewed: one more
        request (its connect, send and answer phases each bounded by the timeout) then still
        ends well within the lease."""
        return max(self.lease / 2 - 3 * self.timeout, self.lease / 8)


class Deliverer:
    """Sends the outbox of one database until stopped.

    The loop runs on the event loop; each claimed queue is sent from a thread of its own
    limiter (never the request handlers' pool) with a blocking HTTP client, which sends about
    twice as fast as an async one. Stopping lets each thread finish the request in flight
    (bounded by the timeout), record what it did and release its lease."""

    def __init__(self, db: Database, policy: Policy | None = None, owner: str | None = None):
        self.policy = policy or Policy()
        self.leases = LeaseStore(db, owner)
        self._busy: set[str] = set()
        self._stopping = threading.Event()
        self._limiter = anyio.CapacityLimiter(self.policy.concurrency)

    async def run(self) -> None:
        """Deliver until cancelled."""
        with self._client() as client:
            async with anyio.create_task_group() as group:
                try:
                    while True:
                        try:
                            started = await self._round(client, group)
                        except Exception:  # the database is unavailable, say: look again a little later
                            log.exception("webhook delivery round failed")
                            await anyio.sleep(1)
                            continue
                        if not started:
                            await anyio.sleep(self.policy.poll_interval)
                finally:
                    self._stopping.set()  # before the task group waits for the queues in flight

    async def drain(self, rounds: int = 1000) -> None:
        """Deliver everything that is due now, then return (for tests and benchmarks)."""
        with self._client() as client:
            for _ in range(rounds):
                async with anyio.create_task_group() as group:
                    started = await self._round(client, group)
                if not started:
                    return

    def _client(self) -> httpx.Client:
        limits = httpx.Limits(max_connections=4 * self.policy.concurrency, max_keepalive_connections=64)
        return httpx.Client(timeout=self.policy.timeout, follow_redirects=False, limits=limits, trust_env=False)

    async def _round(self, client: httpx.Client, group: anyio.abc.TaskGroup) -> int:
        """Claim what is due and start serving it; returns how many queues were started."""
        room = self.policy.concurrency - len(self._busy)
        if room <= 0 or not await anyio.to_thread.run_sync(self.leases.has_work):
            return 0
        claims = await anyio.to_thread.run_sync(
            self.leases.claim, room, self.policy.batch, int(self.policy.lease * 1000)
        )
        for claim in claims:
            self._busy.add(claim.subscription_id)
            group.start_soon(self._serve, client, claim)
        return len(claims)

    async def _serve(self, client: httpx.Client, claim: Claim) -> None:
        try:
            await anyio.to_thread.run_sync(self._serve_queue, client, claim, limiter=self._limiter)
        finally:
            self._busy.discard(claim.subscription_id)

    def _serve_queue(self, client: httpx.Client, claim: Claim) -> None:
        """Send one subscription's queue, then record what is not recorded yet and release it."""
        unrecorded: list[Outcome] = []
        try:
            self._send_queue(client, claim, unrecorded)
        except Exception:  # recording failed mid-queue: the rest is recorded below, or redone
            log.exception("webhook delivery to %s failed", claim.subscription_id)
        try:
            self._record(claim, unrecorded, keep=False)
        except Exception:  # the database is down: the lease expires and the work is redone
            log.exception("could not record webhook attempts for %s", claim.subscription_id)

    def _send_queue(self, client: httpx.Client, claim: Claim, unrecorded: list[Outcome]) -> None:
        """Send in order, stopping at the first failure; record and renew the lease as it goes."""
        key = signing.secret_key(claim.secret)
        renewed = time.monotonic()
        for pending in claim.deliveries:
            if self._stopping.is_set():
                return
            outcome = self._attempt(client, claim.url, key, pending)
            unrecorded.append(outcome)
            if not outcome.delivered:
                return
            if time.monotonic() - renewed >= self.policy.renew_every:
                held = self._record(claim, list(unrecorded), keep=True)
                unrecorded.clear()
                renewed = time.monotonic()
                if not held:
                    return  # disabled meanwhile, or the lease was lost: stop sending

    def _record(self, claim: Claim, outcomes: list[Outcome], keep: bool) -> bool:
        renew = int(self.policy.lease * 1000) if keep else None
        return self.leases.record(claim, outcomes, renew_ms=renew, disable_after_ms=self.policy.disable_after_ms)

    def _attempt(self, client: httpx.Client, url: str, key: bytes, pending: Pending) -> Outcome:
        """One signed POST; never raises."""
        at = now_ms()
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            status = self._post(client, url, key, pending, started + self.policy.timeout)
        except guard.Refused as exc:
            error = f"refused: {exc}"
        except (TimeoutError, httpx.TimeoutException):
            error = f"no answer within {self.policy.timeout:g} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        elapsed = time.monotonic() - started
        if status is not None and elapsed > self.policy.timeout:
            error = f"answered {status} after {elapsed:.1f} s, later than {self.policy.timeout:g} s"
        delivered = error is None and status is not None and 200 <= status < 300
        duration = round(elapsed * 1000)
        retry_at = None
        if not delivered:
            delay = retry_delay(pending.tries + 1, scale=self.policy.retry_scale)
            retry_at = at + duration + delay if delay is not None else None
        return Outcome(
            pending.delivery_id, at, duration, status, error and error[:MAX_ERROR_LENGTH], delivered, retry_at,
            gone=status == 410,
        )  # fmt: skip

    def _post(self, client: httpx.Client, url: str, key: bytes, pending: Pending, deadline: float) -> int:
        headers = signing.headers(key, pending.message_id, int(time.time()), pending.payload)
        headers["user-agent"] = f"Calltrail-Webhooks/{__version__}"
        extensions = {}
        if not self.policy.allow_private:
            # Connect to the address the guard checked, so DNS cannot change it in between.
            target = guard.target(url, allow_private=False)
            url = target.pinned_url()
            headers["host"] = target.host_header()
            extensions["sni_hostname"] = target.host
        elif guard.url_problem(url) is not None:
            raise guard.Refused(f"the URL {guard.URL_RULE}")
        request = client.build_request("POST", url, content=pending.payload, headers=headers, extensions=extensions)
        response = client.send(request, stream=True)
        try:
            read = 0
            for chunk in response.iter_raw():
                read += len(chunk)
                if read > MAX_ANSWER_BYTES or time.monotonic() > deadline:
                    break  # the status is what counts; a long or slow answer is not waited for
        finally:
            response.close()
        return response.status_code


@asynccontextmanager
async def delivering(db: Database, policy: Policy) -> AsyncIterator[Deliverer]:
    """Run a deliverer in the background for the duration of the block; stop it cleanly."""
    deliverer = Deliverer(db, policy)
    async with anyio.create_task_group() as group:

        async def run() -> None:
            try:
                await deliverer.run()
            except Exception:
                log.exception("the webhook deliverer stopped")

        group.start_soon(run)
        try:
            yield deliverer
        finally:
            group.cancel_scope.cancel()
