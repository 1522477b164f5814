"""Usage series and streamed exports of Calltrail's own ``/api``, sans-I/O like the rest: requests
are built here, sent by :class:`~calltrail_sdk.CalltrailClient` (or its async twin)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from calltrail_sdk._exceptions import InvalidResponseError
from calltrail_sdk._filters import CallFilter
from calltrail_sdk._http import Operation, json_body
from calltrail_sdk._http import headers as base_headers

Instant = datetime | int | str
Filters = Mapping[str, str | Sequence[str]] | Sequence[tuple[str, str]]
EXPORT_FORMATS = ("ndjson", "csv")


@dataclass(frozen=True, slots=True)
class UsageSeries:
    """A usage series: one row per bucket (and group), and the range it covers."""

    rows: list[dict[str, Any]]
    meta: dict[str, Any]


def _instant(name: str, value: Instant) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{name} must be a timezone-aware datetime")
        return value.isoformat()
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{name} must be a datetime, Unix seconds or an RFC 3339 string, got {value!r}")
    return str(value)


def _filters(where: CallFilter | None, filters: Filters | None) -> list[tuple[str, str]]:
    params = where.to_params() if where is not None else []
    items = filters.items() if isinstance(filters, Mapping) else (filters or ())
    for name, value in items:
        values = [value] if isinstance(value, str) else list(value)
        params += [(name, str(v)) for v in values]
    return params


def _series(response: httpx.Response) -> UsageSeries:
    body = json_body(response)
    if not isinstance(body, dict) or not isinstance(body.get("data"), list) or not isinstance(body.get("meta"), dict):
        raise InvalidResponseError('a usage answer has a "data" list and a "meta" object')
    return UsageSeries(rows=body["data"], meta=body["meta"])


class NativeApi:
    """Builds the requests of ``/api`` for one server root and key."""

    def __init__(self, root_url: str, api_key: str) -> None:
        self.root_url = root_url
        self.api_key = api_key

    def _request(self, path: str, params: list[tuple[str, str]]) -> httpx.Request:
        headers = base_headers(apikey=self.api_key)
        return httpx.Request("GET", f"{self.root_url}/api{path}", params=tuple(params), headers=headers)

    def usage(
        self,
        kind: str,
        *,
        from_: Instant | None,
        to: Instant | None,
        interval: str | None,
        tz: str | None,
        group_by: str | None,
        limit: int | None,
        where: CallFilter | None,
        filters: Filters | None,
    ) -> Operation[UsageSeries]:
        """``GET /api/usage/{calls|voice}``."""
        params: list[tuple[str, str]] = []
        for name, value in (("from", from_), ("to", to)):
            if value is not None:
                params.append((name, _instant(name, value)))
        for name, text in (("interval", interval), ("tz", tz), ("groupBy", group_by)):
            if text is not None:
                params.append((name, text))
        if limit is not None:
            params.append(("limit", str(limit)))
        return Operation(self._request(f"/usage/{kind}", params + _filters(where, filters)), _series)

    def export(self, kind: str, format: str, where: CallFilter | None, filters: Filters | None) -> httpx.Request:
        """``GET /api/exports/{calls|voice|participants}`` (sent as a stream by the client)."""
        if format not in EXPORT_FORMATS:
            raise ValueError(f"format must be one of {', '.join(EXPORT_FORMATS)}, got {format!r}")
        return self._request(f"/exports/{kind}", [("format", format), *_filters(where, filters)])
