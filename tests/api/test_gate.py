"""The gate's decisions, without a server: what it reads, what it counts, what it answers."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from calltrail.api.gate import UNLIMITED, Admission, Gate, GateSettings
from calltrail.api.metrics import Metrics
from calltrail.app import render_error
from calltrail.kernel.errors import Overloaded, TooManyRequests


def _gate(max_in_flight: int = 2, rate_limit: float = 0.001, rate_burst: int = 1) -> Gate:
    return Gate(GateSettings(max_in_flight, rate_limit, rate_burst), Metrics(), render_error)


def _unread() -> str | None:
    raise AssertionError("the credential was read")


def test_a_shed_request_is_refused_without_reading_its_credential() -> None:
    gate = _gate(max_in_flight=2)
    first = gate.admit("/v3/calls", 2, _unread)
    again = gate.admit("/v3/calls", 5, _unread)
    assert isinstance(first, Overloaded) and first.headers == {"Retry-After": "1"}
    assert again is first  # one answer for every shed request, rendered once
    assert gate.metrics.shed == 2 and gate.metrics.rate_limited == 0


@pytest.mark.parametrize("path", ["/healthz", "/metrics"])
def test_monitoring_is_never_shed_nor_limited(path: str) -> None:
    gate = _gate(max_in_flight=0, rate_burst=1)
    assert [gate.admit(path, 100, _unread) for _ in range(3)] == [UNLIMITED] * 3
    assert gate.metrics.shed == 0


def test_the_rate_limit_reads_the_credential_and_refuses_past_the_burst() -> None:
    gate = _gate(max_in_flight=10, rate_burst=1)
    admitted = gate.admit("/v3/calls", 0, lambda: "key")
    assert isinstance(admitted, Admission) and admitted.decision is not None
    refused = gate.admit("/v3/calls", 0, lambda: "key")
    assert isinstance(refused, TooManyRequests) and int(refused.headers["Retry-After"]) >= 1
    assert gate.admit("/v3/calls", 0, lambda: None) is UNLIMITED  # no credential, no bucket
    assert gate.metrics.rate_limited == 1


def test_without_a_rate_limit_the_credential_is_not_read() -> None:
    gate = _gate(rate_limit=0)
    assert gate.admit("/v3/calls", 0, _unread) is UNLIMITED


def test_check_decides_as_admit_does() -> None:
    gate = _gate(max_in_flight=1, rate_burst=1)
    assert isinstance(gate.check("/v3/calls", "key", 0), Admission)
    assert isinstance(gate.check("/v3/calls", "key", 0), TooManyRequests)
    assert isinstance(gate.check("/v3/calls", "key", 1), Overloaded)
    assert gate.check("/healthz", "key", 1) is UNLIMITED


def test_the_gate_counts_as_refusing_for_a_second_after_any_refusal() -> None:
    now = [100.0]
    refusals: tuple[Callable[[Gate], object], ...] = (
        lambda gate: gate.admit("/v3/calls", 5, _unread),
        lambda gate: gate.check("/v3/calls", "k", 0),
    )
    for refuse in refusals:
        gate = _gate(max_in_flight=2, rate_burst=1)
        gate._clock = lambda: now[0]
        assert isinstance(gate.check("/v3/calls", "k", 0), Admission) and not gate.refusing()
        assert not isinstance(refuse(gate), Admission)  # shed, then rate limited (the burst is spent)
        assert gate.refusing()
        now[0] += Gate.REFUSING_FOR
        assert not gate.refusing()
