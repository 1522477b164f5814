"""The REST API as sans-I/O operations: each method builds one :class:`httpx.Request` and
pairs it with the parser of its answer. :class:`~calltrail_sdk.CalltrailClient` and
:class:`~calltrail_sdk.AsyncCalltrailClient` only send them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from calltrail_sdk._exceptions import InvalidResponseError
from calltrail_sdk._filters import CallFilter, check_entity_id
from calltrail_sdk._http import Operation, data_of, headers, json_body
from calltrail_sdk._models import AuthToken, CallLog, CallPage, GroupProfile, IngestResult, Pagination, UserProfile
from calltrail_sdk._settings import REST_PATH, api_base

MAX_PER_PAGE = 1000
#: The server's limit on events per request; larger batches are split.
MAX_EVENTS = 1000
_SESSION_ID_UNSAFE = ("/", "?", "#")


def _segment(name: str, value: object) -> str:
    if not isinstance(value, str) or not value or any(c in value for c in _SESSION_ID_UNSAFE):
        raise ValueError(f"{name} must be a non-empty string without '/', '?' or '#', got {value!r}")
    return quote(value, safe="")


def _page(page: int, per_page: int) -> list[tuple[str, str]]:
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise ValueError(f"page must be an integer of at least 1, got {page!r}")
    if isinstance(per_page, bool) or not isinstance(per_page, int) or not 1 <= per_page <= MAX_PER_PAGE:
        raise ValueError(f"per_page must be an integer between 1 and {MAX_PER_PAGE}, got {per_page!r}")
    return [("page", str(page)), ("perPage", str(per_page))]


def parse_call_page(response: httpx.Response) -> CallPage:
    """A list-of-calls answer."""
    body = json_body(response)
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise InvalidResponseError('the answer\'s "data" is not a list')
    items = [CallLog.from_json(item, f"data[{index}].") for index, item in enumerate(data)]
    return CallPage(items=items, pagination=Pagination.from_json(body))


def _call(response: httpx.Response) -> CallLog:
    data = data_of(response)
    # The user view answers a one-element list (as the official web SDK expects).
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    return CallLog.from_json(data, "data.")


def _ingest(response: httpx.Response) -> IngestResult:
    data = data_of(response)
    if not isinstance(data, dict) or not all(isinstance(data.get(k), int) for k in ("accepted", "duplicates")):
        raise InvalidResponseError("data.accepted and data.duplicates must be integers")
    return IngestResult(accepted=data["accepted"], duplicates=data["duplicates"])


def _tokens(response: httpx.Response) -> list[AuthToken]:
    data = data_of(response)
    if not isinstance(data, list):
        raise InvalidResponseError('the answer\'s "data" is not a list')
    return [AuthToken.from_json(item, f"data[{index}].") for index, item in enumerate(data)]


def _revoked(response: httpx.Response) -> int:
    data = data_of(response)
    return int(data.get("revoked", 1)) if isinstance(data, dict) else 1


class RestApi:
    """Builds the operations of one server and credential."""

    def __init__(self, base_url: str, api_key: str, on_behalf_of: str | None = None) -> None:
        if not isinstance(api_key, str) or not api_key or not api_key.isascii() or not api_key.isprintable():
            raise ValueError("api_key must be a non-empty string of printable ASCII characters")
        self.base_url = api_base(base_url, REST_PATH, "base_url")
        #: The server root (where ``/api`` lives): the base URL without its ``/v3`` or ``/v3.0``.
        self.root_url = self.base_url.removesuffix("/v3.0").removesuffix("/v3")
        self.api_key = api_key
        self.on_behalf_of = None if on_behalf_of is None else check_entity_id("on_behalf_of", on_behalf_of)

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Sequence[tuple[str, str]] | None = None,
        body: Any = None,
        on_behalf_of: str | None = None,
    ) -> httpx.Request:
        acting = self.on_behalf_of if on_behalf_of is None else check_entity_id("on_behalf_of", on_behalf_of)
        return httpx.Request(
            method,
            f"{self.base_url}{path}",
            params=tuple(params or ()),
            headers=headers(apikey=self.api_key, onBehalfOf=acting),
            json=body,
        )

    def list_calls(
        self, where: CallFilter | None, page: int, per_page: int, on_behalf_of: str | None
    ) -> Operation[CallPage]:
        """``GET /v3/calls``."""
        if where is not None and not isinstance(where, CallFilter):
            raise ValueError(f"where must be a CallFilter, got {type(where).__name__}")
        params = _page(page, per_page) + (where.to_params() if where else [])
        return Operation(self._request("GET", "/calls", params=params, on_behalf_of=on_behalf_of), parse_call_page)

    def get_call(self, session_id: str, on_behalf_of: str | None) -> Operation[CallLog]:
        """``GET /v3/calls/{sessionId}``."""
        path = f"/calls/{_segment('session_id', session_id)}"
        return Operation(self._request("GET", path, on_behalf_of=on_behalf_of), _call)

    def send_events(self, events: Sequence[Mapping[str, Any]]) -> Operation[IngestResult]:
        """``POST /v3/calls/events`` with at most :data:`MAX_EVENTS` events."""
        return Operation(self._request("POST", "/calls/events", body=list(events)), _ingest)

    def put_call(self, record: Mapping[str, Any]) -> Operation[CallLog]:
        """``PUT /v3/calls/{sessionId}`` with a whole record."""
        if not isinstance(record, Mapping):
            raise ValueError("record must be a mapping (a call record)")
        path = f"/calls/{_segment('record.sessionId', record.get('sessionId'))}"
        return Operation(self._request("PUT", path, body=dict(record)), _call)

    def put_user(self, uid: str, name: str, avatar: str | None) -> Operation[UserProfile]:
        """``PUT /v3/users/{uid}``."""
        body = {"name": name, **({"avatar": avatar} if avatar is not None else {})}
        path = f"/users/{quote(check_entity_id('uid', uid), safe='')}"
        return Operation(self._request("PUT", path, body=body), lambda r: UserProfile.from_json(data_of(r)))

    def get_user(self, uid: str) -> Operation[UserProfile]:
        """``GET /v3/users/{uid}``."""
        path = f"/users/{quote(check_entity_id('uid', uid), safe='')}"
        return Operation(self._request("GET", path), lambda r: UserProfile.from_json(data_of(r)))

    def put_group(self, guid: str, name: str, icon: str | None) -> Operation[GroupProfile]:
        """``PUT /v3/groups/{guid}``."""
        body = {"name": name, **({"icon": icon} if icon is not None else {})}
        path = f"/groups/{quote(check_entity_id('guid', guid), safe='')}"
        return Operation(self._request("PUT", path, body=body), lambda r: GroupProfile.from_json(data_of(r)))

    def get_group(self, guid: str) -> Operation[GroupProfile]:
        """``GET /v3/groups/{guid}``."""
        path = f"/groups/{quote(check_entity_id('guid', guid), safe='')}"
        return Operation(self._request("GET", path), lambda r: GroupProfile.from_json(data_of(r)))

    def _tokens_path(self, uid: str) -> str:
        return f"/users/{quote(check_entity_id('uid', uid), safe='')}/auth_tokens"

    def create_auth_token(self, uid: str, force: bool) -> Operation[AuthToken]:
        """``POST /v3/users/{uid}/auth_tokens``."""
        if not isinstance(force, bool):
            raise ValueError(f"force must be True or False, got {force!r}")
        body = {"force": True} if force else None
        return Operation(
            self._request("POST", self._tokens_path(uid), body=body), lambda r: AuthToken.from_json(data_of(r))
        )

    def list_auth_tokens(self, uid: str) -> Operation[list[AuthToken]]:
        """``GET /v3/users/{uid}/auth_tokens`` (a user has at most 100 valid tokens)."""
        return Operation(self._request("GET", self._tokens_path(uid), params=[("perPage", "100")]), _tokens)

    def revoke_auth_token(self, uid: str, token: str) -> Operation[int]:
        """``DELETE /v3/users/{uid}/auth_tokens/{authToken or tokenId}``."""
        path = f"{self._tokens_path(uid)}/{_segment('token', token)}"
        return Operation(self._request("DELETE", path), _revoked)

    def revoke_auth_tokens(self, uid: str) -> Operation[int]:
        """``DELETE /v3/users/{uid}/auth_tokens``."""
        return Operation(self._request("DELETE", self._tokens_path(uid)), _revoked)
