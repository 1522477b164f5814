"""The dashboard's query strings: filter forms in, canonical API-grammar URLs out.

Pure: no I/O. A list page's URL speaks exactly the grammar of the API list it mirrors
(``/calls`` that of ``GET /v3/calls``, ``/voice/{channel}`` that of Bird's channel list), so
every API filter can be expressed, and a copied link shows the same calls to anyone, in any
time zone. A submitted filter form is not in that grammar: it sends empty fields and dates
(``from``/``to``, days in the browser's zone). :func:`canonical` rewrites such a query into
the grammar (the page then redirects to it): empty fields dropped, days turned into instants.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

from calltrail.kernel.errors import InvalidRequest
from calltrail.usage.periods import zone as usage_zone

Items = Sequence[tuple[str, str]]
DEFAULT_ZONE = "UTC"
MAX_ZONE_NAME = 64


def zone(name: str | None) -> zoneinfo.ZoneInfo:
    """The IANA zone ``name`` (what the browser reported), or UTC for anything unknown."""
    try:
        return usage_zone(name) if name and len(name) <= MAX_ZONE_NAME else zoneinfo.ZoneInfo(DEFAULT_ZONE)
    except ValueError:
        return zoneinfo.ZoneInfo(DEFAULT_ZONE)


@dataclass(frozen=True)
class DateField:
    """A form's day field and the instants it becomes: ``start`` and ``end`` are API keys; the
    day's midnight goes to ``start``, the next midnight to ``end`` (``end`` is exclusive)."""

    name: str
    start: str | None
    end: str | None
    unit: str  # "s": Unix seconds; "rfc3339": RFC 3339 in UTC with milliseconds


CALL_DATES = (
    DateField("from", "initiatedAt[gte]", None, "s"),
    DateField("to", None, "initiatedAt[lt]", "s"),
)
VOICE_DATES = (
    DateField("fromDate", "startAt", None, "rfc3339"),
    DateField("toDate", None, "endAt", "rfc3339"),
)


def read_day(text: str, name: str) -> date:
    """A ``YYYY-MM-DD`` day; raises :class:`InvalidRequest` naming the field otherwise."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidRequest("Invalid filters.", details={name: ["must be a date, YYYY-MM-DD"]}) from None


def midnight(day: date, tz: zoneinfo.ZoneInfo) -> datetime:
    """The first instant of ``day`` in zone ``tz``."""
    return datetime.combine(day, time(), tzinfo=tz)


def _instant(moment: datetime, unit: str) -> str:
    if unit == "s":
        return str(int(moment.timestamp()))
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def needs_rewrite(items: Items, dates: Sequence[DateField]) -> bool:
    """True when a query came from a form rather than in the API's grammar."""
    names = {field.name for field in dates}
    return any(value == "" or key in names for key, value in items)


def canonical(items: Items, dates: Sequence[DateField], tz: zoneinfo.ZoneInfo) -> str:
    """The query string in the API's grammar: empty values dropped, form days replaced by
    the instants of their midnights in ``tz``. Raises :class:`InvalidRequest` for a bad day."""
    by_name = {field.name: field for field in dates}
    kept: list[tuple[str, str]] = []
    for key, value in items:
        if value == "":
            continue
        field = by_name.get(key)
        if field is None:
            kept.append((key, value))
            continue
        day = read_day(value, key)
        if field.start is not None:
            kept.append((field.start, _instant(midnight(day, tz), field.unit)))
        if field.end is not None:
            kept.append((field.end, _instant(midnight(day + timedelta(days=1), tz), field.unit)))
    return urlencode(kept)


def form_day(instant_seconds: float | None, tz: zoneinfo.ZoneInfo, *, exclusive_end: bool = False) -> str:
    """The day a form shows for an instant (for an exclusive end, the day before it)."""
    if instant_seconds is None:
        return ""
    if exclusive_end:
        instant_seconds -= 1
    return datetime.fromtimestamp(instant_seconds, tz).date().isoformat()


def with_params(items: Items, **changes: str | None) -> str:
    """``items`` with each named key replaced (or removed, for None), as a query string."""
    kept = [(key, value) for key, value in items if key not in changes]
    kept += [(key, value) for key, value in changes.items() if value is not None]
    return urlencode(kept)
