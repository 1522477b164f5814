"""A straightforward computation of usage figures from the records the list endpoints return.

Deliberately naive (a loop over records, O(n^2) concurrency): the API's figures must equal these.
Minutes are counted to the millisecond (``int(minutes * 60000 + 0.5)``), PDD to the millisecond
and MOS to 0.001, as docs/usage.md defines.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from calltrail.kernel.instants import parse_rfc3339

CALL_STATUSES = ("initiated", "ongoing", "ended", "unanswered", "rejected", "busy", "cancelled")
FINAL = {"ended", "unanswered", "rejected", "busy", "cancelled"}
GROUP_FIELDS = {
    "type": "type",
    "mode": "mode",
    "status": "status",
    "receiverType": "receiverType",
    "initiator": "initiator",
    "direction": "direction",
    "channelId": "channelId",
    "hangupCause": "hangupCauseCode",
}


def ms(minutes: Any) -> int:
    return int(minutes * 60000 + 0.5) if isinstance(minutes, int | float) else 0


def label_of(at_ms: int, interval: str, tz: ZoneInfo, from_ms: int) -> str:
    """The calendar period containing ``at_ms``, as the API labels it."""
    local = datetime.fromtimestamp(at_ms / 1000, tz)
    if interval == "all":
        local = datetime.fromtimestamp(from_ms / 1000, tz)
    elif interval == "hour":
        local = local.replace(minute=0, second=0, microsecond=0)
    elif interval == "day":
        local = local.replace(hour=0, minute=0, second=0, microsecond=0)
    elif interval == "week":
        local = (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        local = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    local = datetime.fromisoformat(local.isoformat())  # the offset of that wall time in the zone
    return local.isoformat(timespec="milliseconds" if local.microsecond else "seconds")


def bucket_start(label: str, from_ms: int) -> int:
    return max(from_ms, round(datetime.fromisoformat(label).timestamp() * 1000))


def peak_of(spans: list[tuple[int, int]], label: str, interval: str, tz: ZoneInfo, from_ms: int, to_ms: int) -> int:
    """The most spans covering one instant of the bucket ``label``: tried at every span start."""
    best = 0
    start = bucket_start(label, from_ms)
    for s, _ in spans:
        t = max(s, start)
        if t >= to_ms or label_of(t, interval, tz, from_ms) != label:
            continue
        best = max(best, sum(1 for a, b in spans if a <= t < b))
    return best


def members(record: dict[str, Any]) -> dict[str, tuple[int, bool]]:
    """Each user of a call: (their own minutes in ms, missed)."""
    uids = [record["initiator"]] + ([record["receiver"]] if record["receiverType"] == "user" else [])
    own: dict[str, int] = {}
    joined, rejected = set(), set()
    for entry in record.get("participants", []):
        uids.append(entry["uid"])
        value = entry.get("totalDuration", entry.get("totalDurationInMinutes"))
        if value is None:
            value_ms = ms(entry.get("totalAudioMinutes", 0)) + ms(entry.get("totalVideoMinutes", 0))
        else:
            value_ms = ms(value)
        own[entry["uid"]] = own.get(entry["uid"], 0) + value_ms
        if entry.get("isJoined"):
            joined.add(entry["uid"])
        if entry.get("state") == "rejected":
            rejected.add(entry["uid"])
    over = record["status"] in FINAL
    return {
        uid: (own.get(uid, 0), over and uid != record["initiator"] and uid not in joined and uid not in rejected)
        for uid in dict.fromkeys(uids)
    }


def expected_calls(
    records: list[dict[str, Any]], params: dict[str, Any], now_ms: int
) -> dict[tuple[str, Any], dict[str, Any]]:
    """Rows keyed by (period label, group) for the records already filtered by the test."""
    from_ms, to_ms = params["from_ms"], params["to_ms"]
    tz, interval, group_by = ZoneInfo(params["tz"]), params["interval"], params.get("groupBy")
    rows: dict[tuple[str, Any], dict[str, Any]] = {}
    spans: dict[tuple[str, Any], list[tuple[int, int]]] = {}
    for record in records:
        at = record["initiatedAt"] * 1000
        if not from_ms <= at < to_ms:
            continue
        label = label_of(at, interval, tz, from_ms)
        people = members(record)
        groups: list[tuple[Any, int, int]]
        if group_by == "uid":
            groups = [(uid, own, int(missed)) for uid, (own, missed) in people.items()]
        else:
            value = record[GROUP_FIELDS[group_by]] if group_by else None
            groups = [(value, sum(own for own, _ in people.values()), 0)]
        for group, own_ms, missed in groups:
            row = rows.setdefault(
                (label, group),
                {
                    "calls": 0,
                    "statuses": dict.fromkeys(CALL_STATUSES, 0),
                    "total": 0,
                    "audio": 0,
                    "video": 0,
                    "participant": 0,
                    "started": 0,
                    "started_total": 0,
                    "missed": 0,
                },
            )
            row["calls"] += 1
            row["statuses"][record["status"]] += 1
            row["total"] += ms(record.get("totalDurationInMinutes", 0))
            row["audio"] += ms(record.get("totalAudioMinutes", 0))
            row["video"] += ms(record.get("totalVideoMinutes", 0))
            row["participant"] += own_ms
            row["missed"] += missed
            if "startedAt" in record:
                row["started"] += 1
                row["started_total"] += ms(record.get("totalDurationInMinutes", 0))
                end = record.get("endedAt")
                stop = end * 1000 if end is not None else (now_ms if record["status"] == "ongoing" else None)
                if stop is not None:
                    spans.setdefault((label, group), []).append((record["startedAt"] * 1000, stop))
    result = {}
    for key, row in rows.items():
        result[key] = {
            "calls": row["calls"],
            "statuses": row["statuses"],
            "totalMinutes": row["total"] / 60000,
            "audioMinutes": row["audio"] / 60000,
            "videoMinutes": row["video"] / 60000,
            "participantMinutes": row["participant"] / 60000,
            "avgDurationMinutes": row["started_total"] / row["started"] / 60000 if row["started"] else 0.0,
            "peakConcurrent": peak_of(spans.get(key, []), key[0], interval, tz, from_ms, to_ms),
        }
        if group_by == "uid":
            result[key]["missed"] = row["missed"]
    return result


def _decimal(value: Any) -> int | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number * 1000 + 0.5) if math.isfinite(number) and number >= 0 else None


def expected_voice(
    records: list[dict[str, Any]], params: dict[str, Any], now_ms: int, statuses: tuple[str, ...]
) -> dict[tuple[str, Any], dict[str, Any]]:
    """Rows of ``/api/usage/voice`` keyed by (period label, group)."""
    from_ms, to_ms = params["from_ms"], params["to_ms"]
    tz, interval, group_by = ZoneInfo(params["tz"]), params["interval"], params.get("groupBy")
    rows: dict[tuple[str, Any], dict[str, Any]] = {}
    spans: dict[tuple[str, Any], list[tuple[int, int]]] = {}
    for record in records:
        at = parse_rfc3339(record["createdAt"])
        if not from_ms <= at < to_ms:
            continue
        label = label_of(at, interval, tz, from_ms)
        key = (label, record.get(GROUP_FIELDS[group_by]) if group_by else None)
        row = rows.setdefault(
            key,
            {
                "calls": 0,
                "statuses": dict.fromkeys(statuses, 0),
                "answered": 0,
                "duration": 0,
                "timed": 0,
                "answered_duration": 0,
                "billable": 0,
                "pdd": [],
                "mos": [],
            },
        )
        row["calls"] += 1
        row["statuses"][record["status"]] += 1
        duration = record.get("duration")
        row["duration"] += duration or 0
        if "answeredAt" in record:
            row["answered"] += 1
            if duration is not None:
                row["timed"] += 1
                row["answered_duration"] += duration
                row["billable"] += math.ceil(duration / 60)
            end = record.get("endedAt")
            stop = parse_rfc3339(end) if end else (now_ms if record["status"] == "ongoing" else None)
            if stop is not None:
                spans.setdefault(key, []).append((parse_rfc3339(record["answeredAt"]), stop))
        insights = record.get("qualityInsights", {})
        pdd, mos = _decimal(insights.get("pdd")), _decimal(insights.get("mos"))
        if pdd is not None:
            row["pdd"].append(pdd)
        if mos:
            row["mos"].append(mos)
    return {
        key: {
            "calls": row["calls"],
            "statuses": row["statuses"],
            "answered": row["answered"],
            "asr": row["answered"] / row["calls"],
            "acdSeconds": row["answered_duration"] / row["timed"] if row["timed"] else 0.0,
            "durationSeconds": row["duration"],
            "billableMinutes": row["billable"],
            "avgPddSeconds": sum(row["pdd"]) / len(row["pdd"]) / 1000 if row["pdd"] else None,
            "avgMos": sum(row["mos"]) / len(row["mos"]) / 1000 if row["mos"] else None,
            "peakConcurrent": peak_of(spans.get(key, []), key[0], interval, tz, from_ms, to_ms),
        }
        for key, row in rows.items()
    }
