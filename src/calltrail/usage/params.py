"""The query-string grammar of Calltrail's own API: ``/api/usage/*`` and ``/api/exports/*``.

Pure: no I/O. Built on the kernel (:mod:`calltrail.kernel.params`) and on the list grammars of
the two domains, so a usage series or an export accepts exactly the filters of the list it
summarises, with the same spellings and the same errors:

* ``/api/usage/calls`` and ``/api/exports/calls|participants``: every filter of ``GET /v3/calls``
  (:data:`calltrail.sessions.filters.LIST_CALLS_PARAMS`), not ``page``/``perPage``.
* ``/api/usage/voice`` and ``/api/exports/voice``: every filter of Bird's workspace-wide list
  (:data:`calltrail.voice.filters.WORKSPACE_PARAMS`), not ``limit``/``pageToken``; for usage,
  ``from``/``to`` replace ``startAt``/``endAt`` and the phone numbers are ``fromNumber``/``toNumber``.

Every problem is collected and reported at once, each under its parameter's name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo

from calltrail.kernel.errors import InvalidRequest
from calltrail.kernel.instants import MAX_MS, parse_rfc3339
from calltrail.kernel.params import KEY, UNSUPPORTED, read_whole
from calltrail.kernel.problems import Problems
from calltrail.sessions.filters import LIST_CALLS_PARAMS, parse_params
from calltrail.sessions.query import CallQuery
from calltrail.usage.periods import INTERVALS, count_buckets, label, zone
from calltrail.voice.filters import WORKSPACE_PARAMS, Param, parse_list_params
from calltrail.voice.query import ChannelCallQuery

DAY_MS = 86_400_000
DEFAULT_DAYS = 30
#: The longest range a series covers: five years (of 366 days, so any five calendar years fit).
MAX_RANGE_MS = 5 * 366 * DAY_MS
#: The most rows (buckets x groups) one series may have.
MAX_ROWS = 200_000
LIMIT_DEFAULT = 100
LIMIT_MAX = 1000
CALL_GROUPS = ("type", "mode", "status", "receiverType", "initiator", "uid")
VOICE_GROUPS = ("direction", "status", "type", "channelId", "hangupCause")
FORMATS = ("ndjson", "csv")
_RANGE = ("from", "to", "interval", "tz", "groupBy", "limit")
_PAGING_CALLS = ("page", "perPage")
_PAGING_VOICE = ("limit", "pageToken")


@dataclass(frozen=True, slots=True)
class Period:
    """The range, bucketing and grouping of a series."""

    from_ms: int
    to_ms: int
    interval: str
    tz_name: str
    tz: ZoneInfo
    group_by: str | None
    limit: int


@dataclass(frozen=True, slots=True)
class CallUsageRequest:
    """``GET /api/usage/calls``: the period and the calls counted (``uid``: calls of that user)."""

    period: Period
    query: CallQuery
    uid: str | None


@dataclass(frozen=True, slots=True)
class VoiceUsageRequest:
    """``GET /api/usage/voice``: the period and the phone calls counted."""

    period: Period
    query: ChannelCallQuery


@dataclass(frozen=True, slots=True)
class CallExportRequest:
    """``GET /api/exports/calls|participants``."""

    format: str
    query: CallQuery
    uid: str | None


@dataclass(frozen=True, slots=True)
class VoiceExportRequest:
    """``GET /api/exports/voice``."""

    format: str
    query: ChannelCallQuery


def read_instant(text: str) -> int:
    """Unix seconds (whole) or an RFC 3339 date-time, as epoch ms."""
    if re.fullmatch(r"\d{1,12}", text):
        millis = int(text) * 1000
    else:
        try:
            millis = parse_rfc3339(text)
        except ValueError:
            raise ValueError("must be Unix seconds or an RFC 3339 date-time, e.g. 2026-03-01T00:00:00Z") from None
    if not 0 <= millis <= MAX_MS:
        raise ValueError("is outside the supported range (1970 to 9999)")
    return millis


def _single(problems: Problems, raw: dict[str, list[str]], name: str) -> str | None:
    values = raw.get(name)
    if values is None:
        return None
    if len(values) > 1:
        problems.fail(name, "must be given once")
        return None
    return values[0]


def _read_range(problems: Problems, raw: dict[str, list[str]], now_ms: int) -> tuple[int | None, int | None]:
    instants: dict[str, int | None] = {}
    for name in ("from", "to"):
        text = _single(problems, raw, name)
        instants[name] = None
        if text is not None:
            try:
                instants[name] = read_instant(text)
            except ValueError as exc:
                problems.fail(name, str(exc))
    start, end = instants["from"], instants["to"]
    if "from" in problems.errors or "to" in problems.errors:
        return None, None
    end = end if end is not None else (now_ms if start is None or start < now_ms else start + DEFAULT_DAYS * DAY_MS)
    start = start if start is not None else end - DEFAULT_DAYS * DAY_MS
    if end <= start:
        problems.fail("to", "must be after from")
    elif end - start > MAX_RANGE_MS:
        problems.fail("to", "must be at most 5 years after from")
    return max(start, 0), end


def _read_period(problems: Problems, raw: dict[str, list[str]], groups: tuple[str, ...], now_ms: int) -> Period | None:
    start, end = _read_range(problems, raw, now_ms)
    interval = _single(problems, raw, "interval") or "day"
    if interval not in INTERVALS:
        problems.fail("interval", f"must be one of {', '.join(INTERVALS)}")
    tz_name = _single(problems, raw, "tz") or "UTC"
    tz: ZoneInfo | None = None
    try:
        tz = zone(tz_name)
    except ValueError as exc:
        problems.fail("tz", str(exc))
    group_by = _single(problems, raw, "groupBy")
    if group_by is not None and group_by not in groups:
        problems.fail("groupBy", f"must be one of {', '.join(groups)}")
    limit = LIMIT_DEFAULT
    limit_text = _single(problems, raw, "limit")
    if limit_text is not None:
        if group_by != "uid":
            problems.fail("limit", "applies only with groupBy=uid")
        else:
            try:
                limit = read_whole(limit_text, 1, LIMIT_MAX)
            except ValueError:
                problems.fail("limit", f"must be an integer between 1 and {LIMIT_MAX}")
    if start is None or end is None or tz is None or problems:
        return None
    per_bucket = limit if group_by == "uid" else 1
    if count_buckets(start, end, interval) * per_bucket > MAX_ROWS:
        problems.fail("interval", f"gives more than {MAX_ROWS} rows over this range: choose a longer interval")
        return None
    return Period(start, end, interval, "UTC" if tz_name == "Z" else tz_name, tz, group_by, limit)


def _split(
    items: Iterable[tuple[str, str]], problems: Problems, own: tuple[str, ...], refused: tuple[str, ...]
) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    """Our own parameters by name; every other key is left for the domain grammar."""
    mine: dict[str, list[str]] = {}
    rest: list[tuple[str, str]] = []
    for key, value in items:
        name, op = _key(key)
        if name in refused:
            problems.fail(key, UNSUPPORTED)
        elif name in own:
            if op is not None:
                problems.fail(key, f"takes no operator; use {name}=value")
            else:
                mine.setdefault(name, []).append(value)
        else:
            rest.append((key, value))
    return mine, rest


def _key(key: str) -> tuple[str, str | None]:
    match = KEY.match(key)
    return (match.group(1), match.group(2)) if match else (key, None)


def _merge(problems: Problems, exc: InvalidRequest) -> None:
    for name, reasons in exc.details.items():
        for reason in reasons:
            problems.fail(name, reason)


def _call_filters(problems: Problems, items: list[tuple[str, str]]) -> tuple[CallQuery, str | None]:
    try:
        parsed = parse_params(items, LIST_CALLS_PARAMS, per_page_default=1, per_page_max=1)
    except InvalidRequest as exc:
        _merge(problems, exc)
        return CallQuery(), None
    uid = parsed.values.get("uid")
    query = parsed.query.involving(str(uid)) if uid is not None else parsed.query
    return query, None if uid is None else str(uid)


def parse_call_usage(items: Iterable[tuple[str, str]], now_ms: int) -> CallUsageRequest:
    """Parse ``/api/usage/calls``; raises :class:`InvalidRequest` naming every bad parameter."""
    problems = Problems()
    mine, rest = _split(items, problems, _RANGE, _PAGING_CALLS)
    query, uid = _call_filters(problems, rest)
    period = _read_period(problems, mine, CALL_GROUPS, now_ms)
    problems.raise_if_any("Invalid query parameters.")
    assert period is not None
    return CallUsageRequest(period, query, uid)


def _voice_usage_params() -> dict[str, Param]:
    params = {k: v for k, v in WORKSPACE_PARAMS.items() if k not in ("limit", "pageToken", "startAt", "endAt")}
    params["fromNumber"] = replace(params.pop("from"), name="fromNumber")
    params["toNumber"] = replace(params.pop("to"), name="toNumber")
    return params


#: The filters ``/api/usage/voice`` takes besides the period (the Bird list's, renamed).
VOICE_USAGE_PARAMS: dict[str, Param] = _voice_usage_params()
#: The filters ``/api/exports/voice`` takes besides ``format``.
VOICE_EXPORT_PARAMS: dict[str, Param] = {k: v for k, v in WORKSPACE_PARAMS.items() if k not in ("limit", "pageToken")}


def _voice_filters(problems: Problems, items: list[tuple[str, str]], params: Mapping[str, Param]) -> ChannelCallQuery:
    try:
        return parse_list_params(items, dict(params), None).query
    except InvalidRequest as exc:
        _merge(problems, exc)
        return ChannelCallQuery()


def parse_voice_usage(items: Iterable[tuple[str, str]], now_ms: int) -> VoiceUsageRequest:
    """Parse ``/api/usage/voice``; raises :class:`InvalidRequest` naming every bad parameter."""
    problems = Problems()
    mine, rest = _split(items, problems, _RANGE, (*_PAGING_VOICE, "startAt", "endAt"))
    query = _voice_filters(problems, rest, VOICE_USAGE_PARAMS)
    period = _read_period(problems, mine, VOICE_GROUPS, now_ms)
    problems.raise_if_any("Invalid query parameters.")
    assert period is not None
    return VoiceUsageRequest(period, query)


def _format(problems: Problems, mine: dict[str, list[str]]) -> str:
    chosen = _single(problems, mine, "format") or "ndjson"
    if chosen not in FORMATS:
        problems.fail("format", f"must be one of {', '.join(FORMATS)}")
    return chosen


def parse_call_export(items: Iterable[tuple[str, str]]) -> CallExportRequest:
    """Parse ``/api/exports/calls`` and ``/api/exports/participants``."""
    problems = Problems()
    mine, rest = _split(items, problems, ("format",), _PAGING_CALLS)
    query, uid = _call_filters(problems, rest)
    chosen = _format(problems, mine)
    problems.raise_if_any("Invalid query parameters.")
    return CallExportRequest(chosen, query, uid)


def parse_voice_export(items: Iterable[tuple[str, str]]) -> VoiceExportRequest:
    """Parse ``/api/exports/voice``."""
    problems = Problems()
    mine, rest = _split(items, problems, ("format",), _PAGING_VOICE)
    query = _voice_filters(problems, rest, VOICE_EXPORT_PARAMS)
    chosen = _format(problems, mine)
    problems.raise_if_any("Invalid query parameters.")
    return VoiceExportRequest(chosen, query)


def describe(period: Period) -> dict[str, Any]:
    """The ``meta`` of a series."""
    meta: dict[str, Any] = {
        "from": label(period.from_ms, period.tz),
        "to": label(period.to_ms, period.tz),
        "interval": period.interval,
        "tz": period.tz_name,
        "groupBy": period.group_by,
    }
    if period.group_by == "uid":
        meta["limit"] = period.limit
    return meta
