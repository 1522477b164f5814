"""The token bucket, with a clock the test moves."""

from __future__ import annotations

from calltrail.api.ratelimit import RateLimiter, presented_credential


def test_a_bucket_allows_its_burst_then_refills_at_the_rate() -> None:
    now = [100.0]
    limiter = RateLimiter(rate=2, burst=3, clock=lambda: now[0])
    assert [limiter.take("k").allowed for _ in range(4)] == [True, True, True, False]
    refused = limiter.take("k")
    assert (refused.remaining, refused.retry_after, refused.reset_after) == (0, 1, 2)
    assert refused.headers()["Retry-After"] == "1"
    now[0] += 0.5  # one token back
    assert limiter.take("k").allowed and not limiter.take("k").allowed
    assert limiter.take("other").remaining == 2  # buckets are per credential
    now[0] += 60
    assert limiter.take("k").remaining == 2  # never more than the burst


def test_the_same_key_has_one_bucket_in_every_dialect() -> None:
    assert presented_credential({"apikey": "abc"}) == "abc"
    assert presented_credential({"authorization": "AccessKey abc"}) == "abc"
    assert presented_credential({"authorization": "Bearer abc"}) == "abc"
    assert presented_credential({"authtoken": "app_123"}) == "app_123"
    assert presented_credential({}) is None


def test_zero_turns_limiting_off() -> None:
    assert not RateLimiter(rate=0, burst=10).enabled


def test_raw_headers_are_the_headers_as_asgi_carries_them() -> None:
    now = [100.0]
    limiter = RateLimiter(rate=1, burst=1, clock=lambda: now[0])
    for decision in (limiter.take("k"), limiter.take("k")):
        expected = [(name.lower().encode(), value.encode()) for name, value in decision.headers().items()]
        assert decision.raw_headers() == expected
