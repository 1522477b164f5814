"""The overview (``/``): usage for a range of days in a zone, drawn from the usage API's figures.

The page's own grammar is readable and shareable: ``from`` and ``to`` are days (inclusive) and
``tz`` the zone they are days in (default: the last 30 days, in the browser's zone). They become
exactly the request ``GET /api/usage/calls`` (and ``/voice``) takes, parsed by the usage API's
own parser and answered by its store (``stores.usage``), so every number on the page is the
API's number; the page links to the API requests it shows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response

from calltrail.api.http import Parsed, parse_now, unwrap
from calltrail.kernel.errors import CalltrailError, InvalidRequest
from calltrail.kernel.problems import Problems
from calltrail.sessions.pages import PageRequest
from calltrail.sessions.query import CallQuery
from calltrail.sessions.vocabulary import CALL_STATUSES
from calltrail.usage.params import parse_call_usage, parse_voice_usage
from calltrail.usage.periods import zone as usage_zone
from calltrail.web import forms
from calltrail.web.charts import number, stacked
from calltrail.web.pages import Pages, Viewer, browser_zone

DEFAULT_DAYS = 30
#: Palette colours (dashboard.css ``.c-N``) of the call statuses: ended green, failures warm.
STATUS_COLORS = {"ended": 0, "ongoing": 1, "unanswered": 2, "rejected": 3, "cancelled": 4, "busy": 5, "initiated": 6}
#: The longest range the page draws day by day.
MAX_DAYS = 366


@dataclass(frozen=True)
class Range:
    """Days ``first..last`` (inclusive) in ``tz``, and the usage API query they become."""

    first: date
    last: date
    tz_name: str

    def api_items(self, interval: str) -> list[tuple[str, str]]:
        tz = ZoneInfo(self.tz_name)
        start = int(forms.midnight(self.first, tz).timestamp())
        end = int(forms.midnight(self.last + timedelta(days=1), tz).timestamp())
        return [("from", str(start)), ("to", str(end)), ("interval", interval), ("tz", self.tz_name)]


def parse_range(items: list[tuple[str, str]], browser_zone: str, today_utc: datetime) -> Range:
    """The page's ``from``, ``to`` and ``tz``; raises :class:`InvalidRequest` naming each bad one."""
    problems = Problems()
    given = dict(items)
    for key in given.keys() - {"from", "to", "tz"}:
        problems.fail(key, "is not a supported parameter")
    tz_name = given.get("tz") or browser_zone
    try:
        tz = usage_zone(tz_name)
    except ValueError as exc:
        problems.fail("tz", str(exc))
        tz = ZoneInfo("UTC")
    days: dict[str, date | None] = {}
    for key in ("from", "to"):
        days[key] = None
        if given.get(key):
            try:
                days[key] = forms.read_day(given[key], key)
            except InvalidRequest as exc:
                problems.fail(key, exc.details[key][0])
    today = today_utc.astimezone(tz).date()
    last = days["to"] or today
    first = days["from"] or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        problems.fail("to", "must be on or after from")
    elif (last - first).days >= MAX_DAYS:
        problems.fail("to", f"must be at most {MAX_DAYS} days after from")
    problems.raise_if_any("Invalid range.")
    return Range(first, last, tz_name)


def _day(label: str) -> str:
    return label[:10]


def _figures(calls_days: list[dict[str, Any]], voice_days: list[dict[str, Any]]) -> dict[str, Any]:
    labels = [_day(row["period"]) for row in calls_days]
    return {
        "calls": stacked(
            "Calls per day, by status",
            "calls",
            labels,
            [(status, [row["statuses"][status] for row in calls_days]) for status in CALL_STATUSES],
            colors=[STATUS_COLORS.get(status, 6) for status in CALL_STATUSES],
        ),
        "minutes": stacked(
            "Minutes per day",
            "minutes",
            labels,
            [
                ("audio", [row["audioMinutes"] for row in calls_days]),
                ("video", [row["videoMinutes"] for row in calls_days]),
            ],
            decimals=1,
            colors=(1, 4),
        ),
        "phone": stacked(
            "Phone calls per day",
            "calls",
            [_day(row["period"]) for row in voice_days],
            [
                ("answered", [row["answered"] for row in voice_days]),
                ("not answered", [row["calls"] - row["answered"] for row in voice_days]),
            ],
            colors=(0, 3),
        ),
    }


def _cards(days: list[dict[str, Any]], voice: dict[str, Any]) -> list[tuple[str, str, str]]:
    """``(id, label, value)`` of the headline figures: for calls, from the day rows (sums are
    exact; the peak is the busiest day's, which spares a second sweep of every call); for phone
    calls the whole range's row (averages cannot be rebuilt from daily averages: summed first)."""
    mos, pdd = voice["avgMos"], voice["avgPddSeconds"]
    return [
        ("calls", "Calls", number(sum(day["calls"] for day in days), 0)),
        ("minutes", "Minutes", number(sum(day["totalMinutes"] for day in days), 1)),
        ("peak", "Peak concurrent calls (busiest day)", number(max((d["peakConcurrent"] for d in days), default=0), 0)),
        ("phone-calls", "Phone calls", number(voice["calls"], 0)),
        ("asr", "Answer rate (ASR)", f"{voice['asr'] * 100:.1f}%"),
        ("acd", "Average duration (ACD)", f"{voice['acdSeconds']:.0f} s"),
        ("mos", "Average MOS", "—" if mos is None else f"{mos:.2f}"),
        ("pdd", "Average PDD", "—" if pdd is None else f"{pdd:.2f} s"),
    ]


class OverviewPage:
    """``/``."""

    def __init__(self, pages: Pages):
        self.pages = pages
        self.stores = pages.stores

    async def overview(self, request: Request) -> Response:
        """Headline figures and the per-day charts (each with its table) for the chosen range."""
        zone_name = browser_zone(request).key
        items = [(k, v) for k, v in request.query_params.multi_items() if v != ""]
        chosen: Parsed[Range] = parse_now(parse_range, items, zone_name, datetime.now().astimezone())

        def view(viewer: Viewer) -> Response:
            now_ms = int(time.time() * 1000)
            context: dict[str, Any] = {"errors": {}}
            if isinstance(chosen, CalltrailError):
                context |= {"errors": chosen.details, "range": None, "tz": zone_name}
                page = self.pages.context(viewer, "overview", "Overview", **context)
                return self.pages.html("overview.html", page, 400)
            span = unwrap(chosen)
            series = {}
            parsed = parse_call_usage(span.api_items("day"), now_ms)
            series["calls_days"] = self.stores.usage.calls(viewer.app_id, parsed, now_ms)
            # No phone-call peak is shown: the day rows' sums (one query, no sweep), and the whole
            # range's row from the same sums (exactly what interval=all sums).
            voice = parse_voice_usage(span.api_items("day"), now_ms)
            series["voice_days"], voice_all = self.stores.usage.voice_sums(viewer.app_id, voice)
            context |= {
                "newest": None if any(d["calls"] for d in series["calls_days"]) else self._newest_range(viewer, span),
                "range": span,
                "tz": span.tz_name,
                "cards": _cards(series["calls_days"], voice_all),
                "charts": _figures(series["calls_days"], series["voice_days"]),
                "api_calls": "/api/usage/calls?" + urlencode(span.api_items("day")),
                "api_voice": "/api/usage/voice?" + urlencode(span.api_items("day")),
            }
            return self.pages.html("overview.html", self.pages.context(viewer, "overview", "Overview", **context))

        return await self.pages.page(request, view, prepare=self.stores.usage.settle)

    def _newest_range(self, viewer: Viewer, span: Range) -> str | None:
        """For an empty range: the query of the 30 days up to the app's newest call, if any (one
        indexed row), so a person looking at old or imported history finds it in one click."""
        newest = self.stores.sessions.find(viewer.app_id, CallQuery(), PageRequest(1, 1)).calls.parsed()
        if not newest:
            return None
        last = datetime.fromtimestamp(newest[0]["initiatedAt"], ZoneInfo(span.tz_name)).date()
        first = last - timedelta(days=DEFAULT_DAYS - 1)
        return urlencode({"from": first.isoformat(), "to": last.isoformat(), "tz": span.tz_name})
