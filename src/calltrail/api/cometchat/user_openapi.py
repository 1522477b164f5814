"""OpenAPI description of the user view and of the users, groups and auth-token endpoints,
generated from the same table the user view parses with
(:data:`calltrail.sessions.viewer.USER_CALL_PARAMS`)."""

from __future__ import annotations

from typing import Any

from calltrail.api.cometchat.openapi import (
    AUTH_ERRORS,
    BAD_REQUEST,
    SESSION_ID,
    error_response,
    page_parameters,
    query_parameters,
)
from calltrail.sessions.viewer import PER_PAGE_DEFAULT, PER_PAGE_MAX, USER_CALL_PARAMS

_TOKEN_ERRORS = {
    "401": error_response(
        "Missing, unknown or revoked auth token.", ["AUTH_ERR_EMPTY_AUTH_TOKEN", "AUTH_ERR_AUTH_TOKEN_NOT_FOUND"]
    ),
}
_UID = {"name": "uid", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 100}}
_GUID = {"name": "guid", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 100}}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _data(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {"data": schema}}


def components() -> dict[str, Any]:
    """Schemas and the ``authToken`` security scheme."""
    user_properties: dict[str, Any] = {
        "uid": {"type": "string"},
        "name": {"type": "string", "description": "The stored name, or the uid when there is no profile."},
        "avatar": {"type": "string", "format": "uri", "description": "Absent when not set."},
    }
    group_properties: dict[str, Any] = {
        "guid": {"type": "string"},
        "name": {"type": "string", "description": "The stored name, or the guid when there is no profile."},
        "icon": {"type": "string", "format": "uri", "description": "Absent when not set."},
    }
    user = {"type": "object", "required": ["uid", "name"], "properties": user_properties}
    group = {"type": "object", "required": ["guid", "name"], "properties": group_properties}
    user_call = {
        "allOf": [
            _ref("Call"),
            {
                "type": "object",
                "required": ["callCategory", "direction", "missed", "data"],
                "properties": {
                    "callCategory": {"type": "string", "description": "The call's `mode`."},
                    "direction": {"type": "string", "enum": ["incoming", "outgoing"]},
                    "missed": {
                        "type": "boolean",
                        "description": "You did not initiate the call, never joined, did not reject, and it is over.",
                    },
                    "data": {
                        "type": "object",
                        "properties": {
                            "entities": {
                                "type": "object",
                                "properties": {
                                    "initiator": {"type": "object", "properties": {"entity": _ref("CallUser")}},
                                    "receiver": {
                                        "type": "object",
                                        "properties": {"entity": {"oneOf": [_ref("CallUser"), _ref("CallGroup")]}},
                                    },
                                },
                            }
                        },
                    },
                },
            },
        ]
    }
    profile_time = {"type": "integer", "description": "Unix seconds"}
    return {
        "securitySchemes": {
            "authToken": {
                "type": "apiKey",
                "in": "header",
                "name": "authToken",
                "description": "A user's auth token (`POST /v3/users/{uid}/auth_tokens`): only that user's calls.",
            },
        },
        "schemas": {
            "CallUser": user,
            "CallGroup": group,
            "UserCall": user_call,
            "UserCallList": {
                "type": "object",
                "properties": {
                    "data": {"type": "array", "items": _ref("UserCall")},
                    "meta": {"type": "object", "properties": {"pagination": _ref("Pagination")}},
                },
            },
            "UserProfile": {
                "type": "object",
                "properties": {
                    **user_properties,
                    "createdAt": profile_time,
                    "updatedAt": profile_time,
                },
            },
            "GroupProfile": {
                "type": "object",
                "properties": {
                    **group_properties,
                    "createdAt": profile_time,
                    "updatedAt": profile_time,
                },
            },
            "AuthToken": {
                "type": "object",
                "properties": {
                    "uid": {"type": "string"},
                    "authToken": {"type": "string", "description": "Shown only in the creation response."},
                    "tokenId": {"type": "string", "description": "A public handle to list and revoke the token by."},
                    "createdAt": profile_time,
                },
            },
        },
    }


def _profile_paths(kind: str, param: dict[str, Any], image: str, not_found: str) -> dict[str, Any]:
    schema = "UserProfile" if kind == "user" else "GroupProfile"
    security: list[dict[str, list[str]]] = [{"apikey": []}]
    return {
        "put": {
            "tags": ["Users and groups"],
            "operationId": f"put{kind.title()}",
            "summary": f"Create or replace a {kind} profile",
            "description": f"Display data for the user view. `name` is required (1-100 characters); `{image}` is an "
            "optional http(s) URL. Other fields are refused.",
            "security": security,
            "parameters": [param],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["name"],
                            "additionalProperties": False,
                            "properties": {"name": {"type": "string"}, image: {"type": "string", "format": "uri"}},
                        }
                    }
                },
            },
            "responses": {"200": _ok("Stored.", _data(_ref(schema))), "400": BAD_REQUEST, **AUTH_ERRORS},
        },
        "get": {
            "tags": ["Users and groups"],
            "operationId": f"get{kind.title()}",
            "summary": f"Get a {kind} profile",
            "security": security,
            "parameters": [param],
            "responses": {
                "200": _ok("The profile.", _data(_ref(schema))),
                "400": BAD_REQUEST,
                **AUTH_ERRORS,
                "404": error_response(f"No profile for this {kind}.", [not_found]),
            },
        },
    }


def _delete_user() -> dict[str, Any]:
    erase = {
        "name": "erase",
        "in": "query",
        "required": False,
        "schema": {"type": "boolean", "default": False},
        "description": "true: also replace the uid by a stable pseudonym (`erased-` + 16 hex digits) in every "
        "call and event of the app; other participants keep their history (docs/lifecycle.md).",
    }
    result = {
        "type": "object",
        "properties": {
            "success": {"type": "boolean"},
            "uid": {"type": "string"},
            "tokensRevoked": {"type": "integer"},
            "pseudonym": {"type": "string", "description": "With erase=true."},
            "callsRewritten": {"type": "integer", "description": "With erase=true."},
            "message": {"type": "string"},
        },
    }
    return {
        "tags": ["Users and groups"],
        "operationId": "deleteUser",
        "summary": "Delete a user (and erase them from calls)",
        "description": "Deletes the profile and every auth token. With `erase=true` (a privacy request) the uid is "
        "also rewritten in the stored events and call records, bounded per transaction; answered when done.",
        "security": [{"apikey": []}],
        "parameters": [_UID, erase],
        "responses": {
            "200": _ok("Deleted (and erased).", _data(result)),
            "400": BAD_REQUEST,
            **AUTH_ERRORS,
            "404": error_response("Without erase: no profile and no token for this uid.", ["ERR_UID_NOT_FOUND"]),
        },
    }


def paths() -> dict[str, Any]:
    """The user view (documented under ``/v3.0``, served under ``/v3`` too) and the users,
    groups and auth-token endpoints."""
    token_security: list[dict[str, list[str]]] = [{"authToken": []}]
    key_security: list[dict[str, list[str]]] = [{"apikey": []}]
    tokens_tag = ["Auth tokens"]
    return {
        "/v3.0/calls": {
            "get": {
                "tags": ["User view"],
                "operationId": "listUserCalls",
                "summary": "List your own calls (authToken)",
                "description": "Chosen whenever the `authToken` header is present (also under `/v3`). Only calls "
                "the token's user is part of, newest first, each with `callCategory`, `direction`, `missed` and "
                "`data.entities`. Unknown or malformed parameters are rejected with 400.",
                "security": token_security,
                "parameters": [
                    *page_parameters(PER_PAGE_DEFAULT, PER_PAGE_MAX),
                    *query_parameters(USER_CALL_PARAMS),
                ],
                "responses": {
                    "200": _ok("A page of your calls.", _ref("UserCallList")),
                    "400": BAD_REQUEST,
                    **_TOKEN_ERRORS,
                },
            }
        },
        "/v3.0/calls/{sessionId}": {
            "get": {
                "tags": ["User view"],
                "operationId": "getUserCall",
                "summary": "Get one of your calls (authToken)",
                "description": "`data` is a one-element list (the official web SDK reads a list). A call you are "
                "not part of answers 404, like a missing one.",
                "security": token_security,
                "parameters": [SESSION_ID],
                "responses": {
                    "200": _ok("The call.", _data({"type": "array", "items": _ref("UserCall")})),
                    **_TOKEN_ERRORS,
                    "404": error_response("No such call among yours.", ["ERR_CALL_SESSION_NOT_FOUND"]),
                },
            }
        },
        "/v3/users/{uid}": {**_profile_paths("user", _UID, "avatar", "ERR_UID_NOT_FOUND"), "delete": _delete_user()},
        "/v3/groups/{guid}": _profile_paths("group", _GUID, "icon", "ERR_GUID_NOT_FOUND"),
        "/v3/users/{uid}/auth_tokens": {
            "post": {
                "tags": tokens_tag,
                "operationId": "createAuthToken",
                "summary": "Create an auth token",
                "description": "For any valid uid (a profile is not required). fullAccess or authOnly key. The "
                "token is shown only here: it is stored hashed. `force` is accepted and changes nothing (every "
                "call creates a new token). A user has at most 100 tokens: the 101st is refused (409) until one is "
                "revoked.",
                "security": key_security,
                "parameters": [_UID],
                "requestBody": {
                    "required": False,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "additionalProperties": False,
                                "properties": {"force": {"type": "boolean"}},
                            }
                        }
                    },
                },
                "responses": {
                    "200": _ok("The new token.", _data(_ref("AuthToken"))),
                    "400": BAD_REQUEST,
                    **AUTH_ERRORS,
                    "409": error_response(
                        "The user already has 100 tokens: revoke one first.", ["ERR_AUTH_TOKEN_LIMIT"]
                    ),
                },
            },
            "get": {
                "tags": tokens_tag,
                "operationId": "listAuthTokens",
                "summary": "List a user's auth tokens",
                "description": "Newest first, without the secret: each token by its `tokenId`.",
                "security": key_security,
                "parameters": [_UID, *page_parameters(100, 100)],
                "responses": {
                    "200": _ok(
                        "A page of tokens.",
                        {
                            "type": "object",
                            "properties": {
                                "data": {"type": "array", "items": _ref("AuthToken")},
                                "meta": {"type": "object", "properties": {"pagination": _ref("Pagination")}},
                            },
                        },
                    ),
                    "400": BAD_REQUEST,
                    **AUTH_ERRORS,
                },
            },
            "delete": {
                "tags": tokens_tag,
                "operationId": "revokeAuthTokens",
                "summary": "Revoke all of a user's auth tokens",
                "security": key_security,
                "parameters": [_UID],
                "responses": {
                    "200": {"description": "Revoked (`data.revoked` counts them)."},
                    "400": BAD_REQUEST,
                    **AUTH_ERRORS,
                },
            },
        },
        "/v3/users/{uid}/auth_tokens/{authToken}": {
            "delete": {
                "tags": tokens_tag,
                "operationId": "revokeAuthToken",
                "summary": "Revoke one auth token",
                "description": "Named by the token itself or by its `tokenId`.",
                "security": key_security,
                "parameters": [
                    _UID,
                    {"name": "authToken", "in": "path", "required": True, "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {"description": "Revoked."},
                    "400": BAD_REQUEST,
                    **AUTH_ERRORS,
                    "404": error_response("The user has no such token.", ["ERR_AUTH_TOKEN_NOT_FOUND"]),
                },
            }
        },
    }
