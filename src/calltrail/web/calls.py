"""The in-app call pages: the calls list, one call with its timeline, and one user's calls.

Every read goes through the stores the API uses (``sessions.find/get/events_of``,
``users.page_context``) with the API's own parsers (``parse_params``, ``parse_user_params``),
so a page shows exactly what the matching API request returns.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from calltrail.api.cometchat.user_view import mentioned, present
from calltrail.api.http import Parsed, parse_now, unwrap
from calltrail.kernel.errors import CalltrailError, InvalidRequest
from calltrail.sessions.filters import LIST_CALLS_PARAMS, ParsedParams, parse_params
from calltrail.sessions.record import merge_record
from calltrail.sessions.viewer import parse_user_params, user_query
from calltrail.sessions.vocabulary import CALL_MODES, CALL_STATUSES, CALL_TYPES, RECEIVER_TYPES, is_entity_id
from calltrail.store.users import PageContext
from calltrail.web import forms
from calltrail.web.pages import Page, Pages, Viewer, browser_zone
from calltrail.web.render import when
from calltrail.web.timeline import call_timeline

PER_PAGE = 50
PER_PAGE_MAX = 100
MAX_EVENTS_SHOWN = 1000
#: The filters the calls form has a control for; any other API filter in the URL is kept.
FORM_KEYS = ("status", "type", "mode", "receiverType", "uid", "hasRecording", "initiatedAt[gte]", "initiatedAt[lt]")
CHOICES = {
    "status": CALL_STATUSES,
    "type": CALL_TYPES,
    "mode": CALL_MODES,
    "receiverType": RECEIVER_TYPES,
}
MEDIA = dict.fromkeys(("mp4", "webm", "mov"), "video") | dict.fromkeys(("mp3", "wav", "ogg", "m4a"), "audio")


def not_found(message: str) -> Page:
    return Page("error.html", {"message": message}, 404)


def _parsed_list(request: Request, parse: Any, **options: Any) -> Parsed[ParsedParams] | Response:
    """The page's API-grammar query, or a redirect to it when a filter form was submitted."""
    items = request.query_params.multi_items()
    if forms.needs_rewrite(items, forms.CALL_DATES):
        tz = browser_zone(request)
        try:
            return RedirectResponse(f"{request.url.path}?{forms.canonical(items, forms.CALL_DATES, tz)}", 303)
        except InvalidRequest as exc:
            return exc
    return parse_now(parse, items, **options)


def _display_names(context: PageContext) -> dict[str, str]:
    """Profile names by uid and guid (an id without a profile shows as itself)."""
    return {uid: user.name for uid, user in context.users.items()} | {g: p.name for g, p in context.groups.items()}


def call_row(record: dict[str, Any], viewer: Viewer) -> dict[str, Any]:
    """What one line of a calls table shows."""
    return {
        "id": record["sessionId"],
        "status": record.get("status", ""),
        "type": record.get("type", ""),
        "mode": record.get("mode", ""),
        "initiator": record.get("initiator", ""),
        "receiver": record.get("receiver", ""),
        "group": record.get("receiverType") == "group",
        "started": when(record.get("initiatedAt"), viewer.tz),
        "duration": record.get("totalDuration", ""),
        "participants": record.get("totalParticipants", 0),
    }


def _profiles(pages: Pages, app_id: str, records: list[dict[str, Any]]) -> PageContext:
    """The display names of the people and groups a list names (initiators and receivers)."""
    uids = {r["initiator"] for r in records} | {r["receiver"] for r in records if r.get("receiverType") != "group"}
    guids = {r["receiver"] for r in records if r.get("receiverType") == "group"}
    return pages.stores.users.page_context(app_id, "", [], uids, guids)


def _pager(items: Sequence[tuple[str, str]], params: ParsedParams | None, total: int) -> dict[str, Any]:
    if params is None:
        return {"page": 1, "pages": 0, "previous": None, "next": None}
    page, pages = params.page.page, -(-total // params.page.per_page)
    return {
        "page": page,
        "pages": pages,
        "previous": forms.with_params(items, page=str(page - 1)) if page > 1 else None,
        "next": forms.with_params(items, page=str(page + 1)) if page < pages else None,
    }


def _form_values(params: ParsedParams | None, viewer: Viewer) -> dict[str, Any]:
    values = params.values if params is not None else {}
    gte, lt = values.get("initiatedAt[gte]"), values.get("initiatedAt[lt]")
    return {
        "status": values.get("status", ""),
        "type": values.get("type", ""),
        "mode": values.get("mode", ""),
        "receiverType": values.get("receiverType", ""),
        "uid": values.get("uid", ""),
        "hasRecording": "" if "hasRecording" not in values else ("true" if values["hasRecording"] else "false"),
        "from": forms.form_day(gte, viewer.tz),
        "to": forms.form_day(lt, viewer.tz, exclusive_end=True),
    }


class CallPages:
    """``/calls``, ``/calls/{sessionId}`` and ``/users/{uid}``."""

    def __init__(self, pages: Pages):
        self.pages = pages
        self.stores = pages.stores

    async def list_calls(self, request: Request) -> Response:
        """``/calls``: the ``GET /v3/calls`` grammar, newest first, with the exact total."""
        parsed = _parsed_list(
            request, parse_params, specs=LIST_CALLS_PARAMS, per_page_default=PER_PAGE, per_page_max=PER_PAGE_MAX
        )
        if isinstance(parsed, Response):
            return parsed
        items = request.query_params.multi_items()

        def view(viewer: Viewer) -> Response:
            params = parsed if not isinstance(parsed, CalltrailError) else None
            rows, names, total = self._rows(viewer, params) if params is not None else ([], {}, 0)
            context = self.pages.context(
                viewer,
                "calls",
                "Calls",
                rows=rows,
                names=names,
                total=total,
                errors=parsed.details if isinstance(parsed, CalltrailError) else {},
                form=_form_values(params, viewer),
                choices=CHOICES,
                extra=[(k, v) for k, v in items if k not in FORM_KEYS and k not in ("page", "perPage")],
                per_page=[(k, v) for k, v in items if k == "perPage"],
                paging=_pager(items, params, total),
            )
            return self.pages.html("calls.html", context, 400 if params is None else 200)

        return await self.pages.page(request, view)

    def _rows(self, viewer: Viewer, params: ParsedParams) -> tuple[list[dict[str, Any]], dict[str, str], int]:
        """One page of calls as table rows, the names they show, and the exact total."""
        query = params.query
        if "uid" in params.values:  # as GET /v3/calls applies it
            query = query.involving(params.values["uid"])
        found = self.stores.sessions.find(viewer.app_id, query, params.page)
        records = found.calls.parsed()
        names = _display_names(_profiles(self.pages, viewer.app_id, records))
        return [call_row(record, viewer) for record in records], names, found.total

    async def get_call(self, request: Request) -> Response:
        """``/calls/{sessionId}``: the facts, the timeline, recordings, metadata and events."""
        session_id = request.path_params["session_id"]

        def view(viewer: Viewer) -> Response:
            stored = self.stores.sessions.get(viewer.app_id, session_id)
            if stored is None:
                raise not_found(f"There is no call with sessionId {session_id}.")
            record = merge_record(stored.summary, stored.extra)
            events = self.stores.sessions.events_of(viewer.app_id, session_id)
            uids, guids = mentioned([record])
            context = self.stores.users.page_context(viewer.app_id, "", [], uids, guids)
            changes = [(e.at_ms / 1000, str(e.data.get("callType"))) for e in events if e.type == "call.type_changed"]
            page = self.pages.context(
                viewer,
                "calls",
                f"Call {session_id}",
                call=record,
                names=_display_names(context),
                timeline=call_timeline(record, changes, viewer.tz, time.time()),
                recordings=[_recording(r) for r in record.get("recordings") or () if isinstance(r, dict)],
                metadata=_pretty(record.get("metaData")),
                tags=[str(tag) for tag in record.get("tags") or ()],
                events=[_event_row(e.at_ms, e.type, e.data, viewer) for e in events[:MAX_EVENTS_SHOWN]],
                events_total=len(events),
                when=lambda s: when(s, viewer.tz),
            )
            return self.pages.html("call.html", page)

        return await self.pages.page(request, view)

    async def user_calls(self, request: Request) -> Response:
        """``/users/{uid}``: one user's calls as the user view shows them (direction, missed)."""
        uid = request.path_params["uid"]
        parsed = _parsed_list(request, lambda items: parse_user_params(items))
        if isinstance(parsed, Response):
            return parsed
        items = request.query_params.multi_items()

        def view(viewer: Viewer) -> Response:
            if not is_entity_id(uid):
                raise not_found(f"There is no user {uid}.")
            params = unwrap(parsed) if not isinstance(parsed, CalltrailError) else None
            found_total, rows, profile = 0, [], None
            if params is not None:
                found = self.stores.sessions.find(viewer.app_id, user_query(params, uid), params.page)
                records = found.calls.parsed()
                users, groups = mentioned(records)
                context = self.stores.users.page_context(
                    viewer.app_id, uid, [r["sessionId"] for r in records], users | {uid}, groups
                )
                rows = [_user_row(present(record, uid, context), viewer) for record in records]
                found_total, profile = found.total, context.users.get(uid)
            page = self.pages.context(
                viewer,
                "calls",
                f"Calls of {uid}",
                uid=uid,
                name=profile.name if profile is not None else uid,
                rows=rows,
                total=found_total,
                errors=parsed.details if isinstance(parsed, CalltrailError) else {},
                form={k: str(v) for k, v in (params.values if params else {}).items() if k in ("direction", "status")},
                paging=_pager(items, params, found_total),
                statuses=(*CALL_STATUSES, "missed"),
            )
            return self.pages.html("user.html", page, 400 if params is None else 200)

        return await self.pages.page(request, view)


def _user_row(record: dict[str, Any], viewer: Viewer) -> dict[str, Any]:
    entities = record["data"]["entities"]
    other = entities["receiver"] if record["direction"] == "outgoing" else entities["initiator"]
    entity = other["entity"]
    return call_row(record, viewer) | {
        "direction": record["direction"],
        "missed": record["missed"],
        "other": entity.get("uid") or entity.get("guid"),
        "other_name": entity["name"],
        "other_group": other["entityType"] == "group",
    }


def _recording(recording: dict[str, Any]) -> dict[str, Any]:
    """A recording's link (only http(s): a ``javascript:`` URL is shown, never linked) and
    the player it gets, by file extension."""
    url = str(recording.get("recording_url") or "")
    linkable = url.startswith(("https://", "http://"))
    extension = url.rsplit("?", 1)[0].rsplit(".", 1)[-1].lower() if linkable else ""
    return {
        "rid": str(recording.get("rid") or ""),
        "url": url,
        "linkable": linkable,
        "player": MEDIA.get(extension, ""),
        "start": recording.get("startTime"),
        "end": recording.get("endTime"),
        "minutes": recording.get("duration"),
    }


def _pretty(value: Any) -> str:
    if value in (None, [], {}):
        return ""
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


def _event_row(at_ms: int, kind: str, data: Any, viewer: Viewer) -> dict[str, Any]:
    return {
        "at": when(at_ms / 1000, viewer.tz) + f".{at_ms % 1000:03d}",
        "type": kind,
        "data": orjson.dumps(dict(data)).decode() if data else "",
    }
