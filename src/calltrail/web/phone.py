"""The phone-call pages: the app's channels, a channel's calls, and one call with its legs.

The list speaks Bird's list grammar (``parse_list_params``) and pages with the same signed,
query-bound keyset tokens as ``GET /workspaces/.../calls`` (a dashboard ``pageToken`` works in
the API and back); reads go through ``stores.voice``.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from calltrail.kernel import cursors
from calltrail.kernel.errors import CalltrailError, InvalidRequest
from calltrail.kernel.instants import parse_rfc3339
from calltrail.voice.filters import LIST_PARAMS, ListRequest, parse_list_params
from calltrail.voice.query import ChannelCallQuery
from calltrail.voice.vocabulary import CALL_TYPES, DIRECTIONS, STATUSES, canonical_uuid, is_uuid
from calltrail.web import forms
from calltrail.web.calls import not_found
from calltrail.web.pages import Pages, Viewer, browser_zone
from calltrail.web.render import when
from calltrail.web.timeline import phone_timeline

LIMIT = 50
#: Calls of the parent's time window read to find its child legs (legs start while it runs).
MAX_LEG_CANDIDATES = 200
FORM_KEYS = ("status", "direction", "type", "from", "to", "startAt", "endAt")
INSTANTS = ("createdAt", "ringingAt", "answeredAt", "endedAt")


def _seconds(record: dict[str, Any], name: str) -> float | None:
    value = record.get(name)
    if not isinstance(value, str):
        return None
    try:
        return parse_rfc3339(value) / 1000
    except ValueError:
        return None


def instants(record: dict[str, Any]) -> dict[str, float]:
    """The record's lifecycle instants, in seconds, leaving out those it lacks."""
    found = {name: _seconds(record, name) for name in INSTANTS}
    return {name: value for name, value in found.items() if value is not None}


def phone_row(record: dict[str, Any], viewer: Viewer) -> dict[str, Any]:
    """What one line of a phone-calls table shows."""
    return {
        "id": record.get("id", ""),
        "status": record.get("status", ""),
        "direction": record.get("direction", ""),
        "type": record.get("type", ""),
        "from": record.get("from", ""),
        "to": record.get("to", ""),
        "created": when(_seconds(record, "createdAt"), viewer.tz),
        "duration": record.get("duration"),
    }


class PhonePages:
    """``/voice``, ``/voice/{channelId}`` and ``/voice/{channelId}/calls/{callId}``."""

    def __init__(self, pages: Pages):
        self.pages = pages
        self.stores = pages.stores

    async def channels(self, request: Request) -> Response:
        """``/voice``: the app's channels."""

        def view(viewer: Viewer) -> Response:
            channels = self.stores.voice.list_channels(viewer.app_id)
            rows = [
                {"id": c.channel_id, "name": c.name, "created": when(c.created_at_ms / 1000, viewer.tz)}
                for c in channels
            ]
            return self.pages.html("channels.html", self.pages.context(viewer, "voice", "Phone calls", channels=rows))

        return await self.pages.page(request, view)

    async def channel_calls(self, request: Request) -> Response:
        """``/voice/{channelId}``: a channel's calls with Bird's filters, newest first."""
        channel = canonical_uuid(request.path_params["channel_id"]) or ""
        items = request.query_params.multi_items()
        parsed: ListRequest | CalltrailError
        try:
            if forms.needs_rewrite(items, forms.VOICE_DATES):
                tz = browser_zone(request)
                return RedirectResponse(f"{request.url.path}?{forms.canonical(items, forms.VOICE_DATES, tz)}", 303)
            defaults = [] if any(key == "limit" for key, _ in items) else [("limit", str(LIMIT))]
            parsed = parse_list_params([*items, *defaults], LIST_PARAMS, channel)
        except InvalidRequest as exc:
            parsed = exc

        def view(viewer: Viewer) -> Response:
            found = self.stores.voice.get_channel(viewer.app_id, channel) if channel else None
            if found is None:
                raise not_found("There is no such channel.")
            rows: list[dict[str, Any]] = []
            next_token = None
            errors = parsed.details if isinstance(parsed, CalltrailError) else {}
            if isinstance(parsed, ListRequest):
                try:
                    rows, next_token = self._page(viewer, parsed)
                except InvalidRequest as exc:
                    errors = exc.details
            values = {
                key: value for key, value in items if key in FORM_KEYS and key not in ("startAt", "endAt") and value
            }
            query = parsed.query if isinstance(parsed, ListRequest) else ChannelCallQuery()
            context = self.pages.context(
                viewer,
                "voice",
                f"Phone calls of {found.name}",
                channel=found,
                rows=rows,
                errors=errors,
                form=values,
                from_date=forms.form_day(query.start_ms / 1000 if query.start_ms else None, viewer.tz),
                to_date=forms.form_day(query.end_ms / 1000 if query.end_ms else None, viewer.tz, exclusive_end=True),
                choices={"status": STATUSES, "direction": DIRECTIONS, "type": CALL_TYPES},
                next=forms.with_params(items, pageToken=next_token) if next_token else None,
                first=forms.with_params(items, pageToken=None) if any(k == "pageToken" for k, _ in items) else None,
            )
            return self.pages.html("voice_calls.html", context, 400 if errors else 200)

        return await self.pages.page(request, view)

    def _page(self, viewer: Viewer, parsed: ListRequest) -> tuple[list[dict[str, Any]], str | None]:
        """One keyset page and the token of the next, as the Bird API issues them."""
        bound_to = cursors.binding(viewer.app_id, parsed.query.fingerprint())
        secret = self.stores.voice.page_secret()
        after = None
        if parsed.page_token is not None:
            after = cursors.decode(parsed.page_token, secret=secret, bound_to=bound_to, valid_key=is_uuid)
        page = self.stores.voice.find(viewer.app_id, parsed.query, after, parsed.limit)
        token = cursors.encode(page.next_after, secret=secret, bound_to=bound_to) if page.next_after else None
        return [phone_row(orjson.loads(item), viewer) for item in page.items], token

    async def get_call(self, request: Request) -> Response:
        """``/voice/{channelId}/calls/{callId}``: the call, its timeline, flow, legs and events."""
        channel = canonical_uuid(request.path_params["channel_id"]) or ""
        call_id = canonical_uuid(request.path_params["call_id"]) or ""

        def view(viewer: Viewer) -> Response:
            found = self.stores.voice.get_channel(viewer.app_id, channel) if channel else None
            body = self.stores.voice.get(viewer.app_id, channel, call_id) if found and call_id else None
            if found is None or body is None:
                raise not_found("There is no such phone call.")
            record = orjson.loads(body)
            now = time.time()
            legs = self._children(viewer.app_id, channel, record, now)
            timeline = phone_timeline(
                [("this call", record.get("to", ""), instants(record))]
                + [(f"leg to {leg.get('to', '')}", leg.get("id", ""), instants(leg)) for leg in legs],
                viewer.tz,
                now,
            )
            events = self.stores.voice.events_of(viewer.app_id, call_id)
            context = self.pages.context(
                viewer,
                "voice",
                f"Phone call {call_id}",
                channel=found,
                call=record,
                row=phone_row(record, viewer),
                times={name: when(_seconds(record, name), viewer.tz) for name in INSTANTS},
                timeline=timeline,
                legs=[phone_row(leg, viewer) for leg in legs],
                commands=[c for c in (record.get("callFlow") or {}).get("commands") or () if isinstance(c, dict)],
                events=[
                    {
                        "at": when(e.at_ms / 1000, viewer.tz) + f".{e.at_ms % 1000:03d}",
                        "status": e.status,
                        "data": orjson.dumps(dict(e.data)).decode() if e.data else "",
                    }
                    for e in events
                ],
            )
            return self.pages.html("voice_call.html", context)

        return await self.pages.page(request, view)

    def _children(self, app_id: str, channel: str, record: dict[str, Any], now: float) -> list[dict[str, Any]]:
        """The call's child legs: calls of its channel created while it ran that name it as
        their parent (found among at most :data:`MAX_LEG_CANDIDATES`, through the list's index)."""
        times = instants(record)
        if "createdAt" not in times:
            return []
        start = int(times["createdAt"] * 1000)
        end = int(times.get("endedAt", now) * 1000) + 1
        query = ChannelCallQuery(scope=channel, start_ms=start, end_ms=max(end, start + 1))
        page = self.stores.voice.find(app_id, query, None, MAX_LEG_CANDIDATES)
        legs = [orjson.loads(item) for item in page.items]
        return sorted(
            (leg for leg in legs if leg.get("parentId") == record.get("id")), key=lambda leg: leg.get("createdAt", "")
        )
