"""Server metrics in Prometheus' text format (``GET /metrics``), per process.

Kept by hand rather than with a client library: a few counters and one histogram family, all
updated on the event loop by :mod:`calltrail.api.guard`, plus the store's own counters
(:mod:`calltrail.store.stats`) read at scrape time. Routes are labelled by their template
(``/v3/calls/{session_id}``), never by the path a client sent, so the series stay few.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import accumulate

from calltrail.store.stats import DATABASE_ERRORS, USAGE_BACKLOG_MARKS

#: Latency buckets in seconds: from a cached health answer to a slow export page.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: The route label of a request no route matched (scanners, typos): one series for all.
UNMATCHED = "unmatched"
#: The route label of a request refused before routing (shed, rate limited).
REFUSED = "refused"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class _Histogram:
    #: Observations per bucket, each counted once (in the first bucket that holds it, the last
    #: slot past every bound): cumulated only when rendered, not on every request.
    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    total: float = 0.0
    observations: int = 0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(BUCKETS, seconds)] += 1
        self.total += seconds
        self.observations += 1

    def cumulative(self) -> list[int]:
        """Observations at or below each bound of :data:`BUCKETS` (Prometheus' ``le`` buckets)."""
        return list(accumulate(self.counts[: len(BUCKETS)]))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{name}="{_escape(value)}"' for name, value in labels.items()) + "}"


class Metrics:
    """The counters of one server process."""

    def __init__(self, store_counters: Callable[[], Mapping[str, int]] = dict) -> None:
        self._store_counters = store_counters
        self.requests: dict[tuple[str, str, str], int] = {}
        self.durations: dict[tuple[str, str], _Histogram] = {}
        self.in_flight = 0
        self.shed = 0
        self.rate_limited = 0

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request and its latency."""
        key = (route, method, str(status))
        self.requests[key] = self.requests.get(key, 0) + 1
        histogram = self.durations.get((route, method))
        if histogram is None:
            histogram = self.durations[(route, method)] = _Histogram()
        histogram.observe(seconds)

    def render(self) -> str:
        """Every metric in Prometheus' text exposition format."""
        return "".join(line + "\n" for line in self._lines())

    def _lines(self) -> Iterator[str]:
        yield from _family(
            "calltrail_http_requests", "counter", "HTTP requests answered, by route template, method and status."
        )
        for (route, method, status), count in sorted(self.requests.items()):
            yield f"calltrail_http_requests_total{_labels(route=route, method=method, status=status)} {count}"
        yield from _family("calltrail_http_request_duration_seconds", "histogram", "Time to answer a request.")
        for (route, method), histogram in sorted(self.durations.items()):
            for bound, count in zip(BUCKETS, histogram.cumulative(), strict=True):
                labels = _labels(route=route, method=method, le=repr(bound))
                yield f"calltrail_http_request_duration_seconds_bucket{labels} {count}"
            labels = _labels(route=route, method=method, le="+Inf")
            yield f"calltrail_http_request_duration_seconds_bucket{labels} {histogram.observations}"
            labels = _labels(route=route, method=method)
            yield f"calltrail_http_request_duration_seconds_sum{labels} {histogram.total}"
            yield f"calltrail_http_request_duration_seconds_count{labels} {histogram.observations}"
        yield from _family("calltrail_http_requests_in_flight", "gauge", "Requests being answered now.")
        yield f"calltrail_http_requests_in_flight {self.in_flight}"
        yield from _family(
            "calltrail_http_requests_shed", "counter", "Requests refused at once (503): too much in flight."
        )
        yield f"calltrail_http_requests_shed_total {self.shed}"
        yield from _family("calltrail_http_requests_rate_limited", "counter", "Requests refused (429) by a rate limit.")
        yield f"calltrail_http_requests_rate_limited_total {self.rate_limited}"
        yield from self._store_lines()

    def _store_lines(self) -> Iterator[str]:
        counters = self._store_counters()
        families = (
            ("calltrail_events_ingested", "events_accepted:", "Events stored (new), by call domain."),
            ("calltrail_events_duplicate", "events_duplicate:", "Redelivered events ignored, by call domain."),
        )
        for name, prefix, help_text in families:
            yield from _family(name, "counter", help_text)
            for key, value in sorted(counters.items()):
                if key.startswith(prefix):
                    yield f"{name}_total{_labels(domain=key[len(prefix) :])} {value}"
        yield from _family("calltrail_database_errors", "counter", "Transactions that failed: database unavailable.")
        yield f"calltrail_database_errors_total {counters.get(DATABASE_ERRORS, 0)}"
        waiting = "Usage rollup marks waiting, all apps, at the settler's last round."
        yield from _family("calltrail_usage_backlog_marks", "gauge", waiting)
        yield f"calltrail_usage_backlog_marks {counters.get(USAGE_BACKLOG_MARKS, 0)}"


def _family(name: str, kind: str, help_text: str) -> Iterator[str]:
    yield f"# HELP {name}{'_total' if kind == 'counter' else ''} {help_text}"
    yield f"# TYPE {name}{'_total' if kind == 'counter' else ''} {kind}"
