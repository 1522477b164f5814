"""Users, groups and auth tokens over REST (``apikey`` header), in CometChat's shapes.

* ``PUT /users/{uid}`` ``{"name", "avatar"}`` and ``PUT /groups/{guid}`` ``{"name", "icon"}``
  store display profiles (create or replace); ``GET`` reads them back.
* ``POST /users/{uid}/auth_tokens`` creates a token (``fullAccess`` or ``authOnly`` key);
  listing and revoking need ``fullAccess``, as every other endpoint here.

A token can be created for any valid uid, with or without a profile: calls name users by id
only, so a user exists for Calltrail as soon as some call mentions them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from calltrail.api.auth import authenticate_key
from calltrail.api.http import attempt, decode_json, json_response, parse_now, read_body, read_json_now, run, unwrap
from calltrail.kernel.errors import GuidNotFound, InvalidRequest, UidNotFound
from calltrail.kernel.problems import CONTROL_RULE, has_control
from calltrail.sessions.pages import PageRequest, page_meta
from calltrail.sessions.vocabulary import ENTITY_ID_RULE, is_entity_id
from calltrail.store import Stores
from calltrail.store.erasure import Eraser, Erasure
from calltrail.store.tenants import ApiKey
from calltrail.store.users import AuthToken, GroupProfile, UserProfile

MAX_NAME = 100
MAX_URL = 2048
#: Profile and token bodies are tiny (a name and a URL; ``{"force": true}``): anything much
#: larger is a mistake, refused before it is read whole.
MAX_BODY = 4096
TOKENS_PER_PAGE_DEFAULT = 100
TOKENS_PER_PAGE_MAX = 100


def user_json(profile: UserProfile) -> dict[str, Any]:
    """A user profile on the wire (``avatar`` only when set)."""
    body: dict[str, Any] = {"uid": profile.uid, "name": profile.name}
    if profile.avatar is not None:
        body["avatar"] = profile.avatar
    body["createdAt"] = profile.created_at_ms // 1000
    body["updatedAt"] = profile.updated_at_ms // 1000
    return body


def group_json(profile: GroupProfile) -> dict[str, Any]:
    """A group profile on the wire (``icon`` only when set)."""
    body: dict[str, Any] = {"guid": profile.guid, "name": profile.name}
    if profile.icon is not None:
        body["icon"] = profile.icon
    body["createdAt"] = profile.created_at_ms // 1000
    body["updatedAt"] = profile.updated_at_ms // 1000
    return body


def _erase_flag(values: list[str]) -> bool:
    """``?erase=true|false`` (absent: false)."""
    if len(values) > 1 or (values and values[0] not in ("true", "false")):
        raise InvalidRequest("Invalid query parameters.", {"erase": ["must be true or false, once"]})
    return values == ["true"]


def _path_id(request: Request, name: str) -> str:
    value: str = request.path_params[name]
    if not is_entity_id(value):
        raise InvalidRequest(details={name: [ENTITY_ID_RULE]})
    return value


def _is_url(value: str) -> bool:
    # Only http(s): these URLs end up in <img src> and links of client apps.
    parts = urlsplit(value)
    return (
        parts.scheme in ("http", "https")
        and bool(parts.netloc)
        and not any(c.isspace() for c in value)
        and not has_control(value)
    )


def parse_profile(body: object, id_field: str, id_value: str, image_field: str) -> tuple[str, str | None]:
    """``(name, image URL or None)`` from a profile body; 400 naming every bad field.

    ``name`` is required (1-100 characters); the image is an optional http(s) URL; the id may
    be repeated in the body but must then equal the one in the path. Other fields are refused
    rather than silently dropped.
    """
    if not isinstance(body, dict):
        raise InvalidRequest(details={"body": [f"must be a JSON object with name and {image_field}"]})
    errors: dict[str, list[str]] = {}
    name = body.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME or not name.strip():
        errors["name"] = [f"is required: a string of 1-{MAX_NAME} characters, not blank"]
    elif has_control(name):
        errors["name"] = [CONTROL_RULE]
    image = body.get(image_field)
    if image is not None and (not isinstance(image, str) or len(image) > MAX_URL or not _is_url(image)):
        errors[image_field] = [f"must be an http or https URL of at most {MAX_URL} characters"]
    if id_field in body and body[id_field] != id_value:
        errors[id_field] = [f"must equal the {id_field} in the URL"]
    for key in body:
        if key not in ("name", image_field, id_field):
            errors.setdefault(key, []).append(f"is not a supported field (name, {image_field})")
    if errors:
        raise InvalidRequest(details=errors)
    return str(name), image


async def _optional_json(request: Request) -> Any:
    """The JSON body, or None when there is none (bodies are optional on token creation)."""
    body = await read_body(request, MAX_BODY)
    if not body.strip():
        return None
    return decode_json(body)


def parse_token_body(body: object) -> bool:
    """The ``force`` flag of a token-creation body (absent body: False)."""
    if body is None:
        return False
    if not isinstance(body, dict):
        raise InvalidRequest(details={"body": ['must be a JSON object such as {"force": true}']})
    errors = {key: ["is not a supported field (force)"] for key in body if key != "force"}
    force = body.get("force", False)
    if not isinstance(force, bool):
        errors["force"] = ["must be true or false"]
    if errors:
        raise InvalidRequest(details=errors)
    return bool(force)


def _token_page(request: Request) -> PageRequest:
    errors: dict[str, list[str]] = {}
    values = {"page": 1, "perPage": TOKENS_PER_PAGE_DEFAULT}
    bounds = {"page": 10**9, "perPage": TOKENS_PER_PAGE_MAX}
    for key, raw in request.query_params.multi_items():
        if key not in values:
            errors.setdefault(key, []).append("is not a supported parameter (page, perPage)")
        elif not raw.isdigit() or not 1 <= int(raw) <= bounds[key]:
            errors.setdefault(key, []).append(f"must be an integer between 1 and {bounds[key]}")
        else:
            values[key] = int(raw)
    if errors:
        raise InvalidRequest("Invalid query parameters.", errors)
    return PageRequest(values["page"], values["perPage"])


class UsersEndpoints:
    """Handlers of ``/users/...`` and ``/groups/...`` (mounted under ``/v3`` and ``/v3.0``)."""

    def __init__(self, stores: Stores):
        self.stores = stores

    def routes(self) -> list[Route]:
        """The routes this module serves."""
        return [
            Route("/users/{uid}", self.put_user, methods=["PUT"]),
            Route("/users/{uid}", self.get_user, methods=["GET"]),
            Route("/users/{uid}", self.delete_user, methods=["DELETE"]),
            Route("/groups/{guid}", self.put_group, methods=["PUT"]),
            Route("/groups/{guid}", self.get_group, methods=["GET"]),
            Route("/users/{uid}/auth_tokens", self.create_token, methods=["POST"]),
            Route("/users/{uid}/auth_tokens", self.list_tokens, methods=["GET"]),
            Route("/users/{uid}/auth_tokens", self.revoke_tokens, methods=["DELETE"]),
            Route("/users/{uid}/auth_tokens/{token}", self.revoke_token, methods=["DELETE"]),
        ]

    def _key(self, request: Request, *, full_access: bool = True) -> ApiKey:
        return authenticate_key(self.stores, request.headers.get("apikey"), full_access=full_access)

    async def put_user(self, request: Request) -> Response:
        """``PUT /users/{uid}``: create or replace a user's display profile."""
        uid = parse_now(_path_id, request, "uid")
        body = await read_json_now(request, MAX_BODY)

        def put() -> UserProfile:
            key = self._key(request)
            name, avatar = parse_profile(unwrap(body), "uid", unwrap(uid), "avatar")
            return self.stores.users.put_user(key.app_id, unwrap(uid), name, avatar)

        return json_response({"data": user_json(await run(put))})

    async def get_user(self, request: Request) -> Response:
        """``GET /users/{uid}``: a user's display profile."""
        uid = parse_now(_path_id, request, "uid")

        def get() -> UserProfile:
            with self.stores.db.read():
                key = self._key(request)
                profile = self.stores.users.get_user(key.app_id, unwrap(uid))
            if profile is None:
                raise UidNotFound(f"The user {unwrap(uid)!r} has no profile.")
            return profile

        return json_response({"data": user_json(await run(get))})

    async def delete_user(self, request: Request) -> Response:
        """``DELETE /users/{uid}``: the profile and auth tokens go; with ``?erase=true`` the uid is
        also replaced by a stable pseudonym in every call and event (docs/lifecycle.md)."""
        uid = parse_now(_path_id, request, "uid")
        erase = parse_now(_erase_flag, request.query_params.getlist("erase"))

        def delete() -> Erasure:
            key = self._key(request)
            eraser = Eraser(self.stores.sessions)
            if unwrap(erase):
                return eraser.erase(key.app_id, unwrap(uid))
            profile, tokens = eraser.forget_profile(key.app_id, unwrap(uid))
            if not profile and not tokens:
                raise UidNotFound(f"The user {unwrap(uid)!r} has no profile.")
            return Erasure(unwrap(uid), unwrap(uid), profile, tokens, 0)

        done = await run(delete)
        data: dict[str, Any] = {"success": True, "uid": done.uid, "tokensRevoked": done.tokens}
        if unwrap(erase):
            data |= {"pseudonym": done.pseudonym, "callsRewritten": done.calls}
            data["message"] = f"{done.uid} was erased from {done.calls} call(s) and replaced by {done.pseudonym}."
        else:
            data["message"] = f"The profile and auth tokens of {done.uid} were deleted; calls are unchanged."
        return json_response({"data": data})

    async def put_group(self, request: Request) -> Response:
        """``PUT /groups/{guid}``: create or replace a group's display profile."""
        guid = parse_now(_path_id, request, "guid")
        body = await read_json_now(request, MAX_BODY)

        def put() -> GroupProfile:
            key = self._key(request)
            name, icon = parse_profile(unwrap(body), "guid", unwrap(guid), "icon")
            return self.stores.users.put_group(key.app_id, unwrap(guid), name, icon)

        return json_response({"data": group_json(await run(put))})

    async def get_group(self, request: Request) -> Response:
        """``GET /groups/{guid}``: a group's display profile."""
        guid = parse_now(_path_id, request, "guid")

        def get() -> GroupProfile:
            with self.stores.db.read():
                key = self._key(request)
                profile = self.stores.users.get_group(key.app_id, unwrap(guid))
            if profile is None:
                raise GuidNotFound(f"The group {unwrap(guid)!r} has no profile.")
            return profile

        return json_response({"data": group_json(await run(get))})

    async def create_token(self, request: Request) -> Response:
        """``POST /users/{uid}/auth_tokens``: a new token, shown this once.

        ``force`` is accepted for compatibility and changes nothing: a stored token is only a
        hash, so an existing token can never be handed out again; every call makes a new one.
        """
        uid = parse_now(_path_id, request, "uid")
        body = await attempt(_optional_json(request))

        def create() -> tuple[str, AuthToken]:
            key = self._key(request, full_access=False)
            parse_token_body(unwrap(body))
            return self.stores.users.create_token(key.app_id, unwrap(uid))

        token, stored = await run(create)
        return json_response(
            {
                "data": {
                    "uid": unwrap(uid),
                    "authToken": token,
                    "tokenId": stored.token_id,
                    "createdAt": stored.created_at_ms // 1000,
                }
            }
        )

    async def list_tokens(self, request: Request) -> Response:
        """``GET /users/{uid}/auth_tokens``: the user's valid tokens, newest first, without secrets."""
        uid = parse_now(_path_id, request, "uid")
        page = parse_now(_token_page, request)

        def tokens() -> tuple[int, list[AuthToken]]:
            with self.stores.db.read():
                key = self._key(request)
                wanted = unwrap(page)
                return self.stores.users.list_tokens(key.app_id, unwrap(uid), wanted.offset, wanted.per_page)

        total, found = await run(tokens)
        items = [{"uid": unwrap(uid), "tokenId": t.token_id, "createdAt": t.created_at_ms // 1000} for t in found]
        return json_response({"data": items, "meta": page_meta(unwrap(page), total, len(items))})

    async def revoke_token(self, request: Request) -> Response:
        """``DELETE /users/{uid}/auth_tokens/{authToken}``: revoke one token (or its ``tokenId``)."""
        uid = parse_now(_path_id, request, "uid")

        def revoke() -> None:
            key = self._key(request)
            self.stores.users.revoke_token(key.app_id, unwrap(uid), request.path_params["token"])

        await run(revoke)
        return json_response({"data": {"success": True, "message": f"The auth token of {unwrap(uid)} was revoked."}})

    async def revoke_tokens(self, request: Request) -> Response:
        """``DELETE /users/{uid}/auth_tokens``: revoke every token of the user."""
        uid = parse_now(_path_id, request, "uid")

        def revoke() -> int:
            key = self._key(request)
            return self.stores.users.revoke_tokens(key.app_id, unwrap(uid))

        revoked = await run(revoke)
        return json_response(
            {
                "data": {
                    "success": True,
                    "revoked": revoked,
                    "message": f"{revoked} auth token(s) of {unwrap(uid)} revoked.",
                }
            }
        )
