"""The hand-kept Prometheus metrics."""

from __future__ import annotations

from calltrail.api.metrics import BUCKETS, Metrics


def test_histogram_buckets_are_cumulative_and_end_at_the_count() -> None:
    metrics = Metrics()
    observed = [0.001, 0.005, 0.0051, 0.3, 7.0, 11.0, 0.5]
    for seconds in observed:
        metrics.observe("/v3/calls", "GET", 200, seconds)
    lines = metrics.render().splitlines()
    buckets = [line for line in lines if line.startswith("calltrail_http_request_duration_seconds_bucket")]
    counts = [int(line.rsplit(" ", 1)[1]) for line in buckets]
    # Each finite bucket counts the observations at or below its bound; +Inf counts them all.
    assert counts == [sum(seconds <= bound for seconds in observed) for bound in BUCKETS] + [len(observed)]
    assert 'le="0.005"} 2' in buckets[0]
    assert 'calltrail_http_requests_total{route="/v3/calls",method="GET",status="200"} 7' in lines


def test_the_store_counters_and_the_backlog_gauge_are_rendered() -> None:
    counters = {"events_accepted:session": 3, "database_errors": 2, "usage_backlog_marks": 7}
    lines = Metrics(lambda: counters).render().splitlines()
    assert 'calltrail_events_ingested_total{domain="session"} 3' in lines
    assert "calltrail_database_errors_total 2" in lines
    assert "# TYPE calltrail_usage_backlog_marks gauge" in lines
    assert "calltrail_usage_backlog_marks 7" in lines
