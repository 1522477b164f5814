"""What a call contributes: minutes to the millisecond, quality figures, peak concurrency."""

from __future__ import annotations

from calltrail.usage.figures import billable_minutes, entry_ms, participant_ms, peak, quality, to_ms


def test_minutes_to_the_millisecond() -> None:
    assert to_ms(1.4161666666666666) == 84970
    assert to_ms(0) == 0 and to_ms(True) == 0 and to_ms("3") == 0
    assert entry_ms({"totalDuration": 0.5, "totalAudioMinutes": 9}) == 30000
    assert entry_ms({"totalDurationInMinutes": 0.25}) == 15000
    assert entry_ms({"totalAudioMinutes": 0.5, "totalVideoMinutes": 0.25}) == 45000
    record = {"participants": [{"uid": "a", "totalDuration": 1}, {"uid": "a", "totalDuration": 2}, {"uid": "b"}]}
    assert participant_ms(record)[1] == {"a": 180000, "b": 0}
    assert to_ms(2) == 120000 and to_ms(float("nan")) == 0 and to_ms(float("inf")) == 0 and to_ms(None) == 0


def test_participant_minutes_in_all_and_per_user_from_one_pass() -> None:
    """Every entry counts in the call's participant minutes; only entries with a uid in a user's."""
    entries = [{"uid": "a", "totalDuration": 1}, {"totalDuration": 0.5}, "junk", {"uid": 7, "totalAudioMinutes": 0.25}]
    record = {"participants": [*entries, {"uid": "a", "totalDurationInMinutes": 2}]}
    assert participant_ms(record) == (225000, {"a": 180000})
    assert participant_ms({}) == (0, {}) and participant_ms({"participants": None}) == (0, {})


def test_quality_and_billing() -> None:
    assert quality({"qualityInsights": {"mos": "4.47", "pdd": "1.23"}}) == (1230, 4470)
    assert quality({"qualityInsights": {"mos": "0.00", "pdd": "x"}}) == (None, None)
    assert quality({}) == (None, None)
    assert [billable_minutes(d) for d in (None, 0, 1, 60, 61)] == [0, 0, 1, 1, 2]


def test_peak_counts_half_open_intervals_inside_the_bucket() -> None:
    assert peak([(0, 10), (10, 20)], 0, 100) == 1
    assert peak([(0, 10), (5, 20), (6, 7)], 0, 100) == 3
    assert peak([(0, 10), (5, 20), (6, 7)], 7, 100) == 2  # (6, 7) ends before the bucket
    assert peak([(0, 10), (20, 30)], 10, 20) == 0
    assert peak([], 0, 1) == 0
