"""The query-string grammar of Bird's call-list endpoints (spec file 004).

Pure: no I/O. A table of :class:`Param` drives parsing, validation *and* the OpenAPI
description, so a documented filter cannot be silently ignored: every parameter is either in
the table or rejected with a reason naming it.

Repeatable parameters (``status``, ``type``, ``direction``, ``tag``, ``channelId``) are given
once per value, as Bird's ``style: form, explode: true`` declares (``status=busy&status=failed``);
``name[]=`` is accepted for the same, and the enumerations also take comma-separated values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from calltrail.kernel.instants import parse_rfc3339
from calltrail.kernel.params import UNSUPPORTED, group_keys, label, not_empty
from calltrail.kernel.problems import CONTROL_RULE, Problems, has_control
from calltrail.voice.query import ChannelCallQuery
from calltrail.voice.vocabulary import CALL_TYPES, DIRECTIONS, STATUSES, UUID_RULE, canonical_uuid

LIMIT_DEFAULT = 10
LIMIT_MAX = 1000
MAX_PAGE_TOKEN = 8000
MAX_PARTY = 100
MAX_TAG_LENGTH = 100
MAX_TAG_VALUES = 20
MAX_CHANNEL_VALUES = 100
MAX_DURATION = 10**9


@dataclass(frozen=True)
class Param:
    """One query parameter.

    ``kind`` is one of ``limit``, ``token``, ``datetime``, ``enum``, ``text``, ``int``, ``uuid``,
    ``tag``. ``target`` is the :class:`ChannelCallQuery` field it sets (None for ``limit`` and
    ``pageToken``, which the endpoint reads).
    """

    name: str
    kind: str
    description: str
    target: str | None = None
    repeatable: bool = False
    choices: tuple[str, ...] = ()
    max_values: int = 0
    example: Any = None


@dataclass(frozen=True)
class ListRequest:
    """A parsed list request: the query, the page size and the (unverified) page token."""

    query: ChannelCallQuery
    limit: int = LIMIT_DEFAULT
    page_token: str | None = None


def _read(param: Param, text: str) -> Any:
    """Convert one raw value, raising ValueError with the reason."""
    not_empty(text)
    if param.kind == "limit":
        if not re.fullmatch(r"\d{1,4}", text) or not 1 <= int(text) <= LIMIT_MAX:
            raise ValueError(f"must be an integer between 1 and {LIMIT_MAX}")
        return int(text)
    if param.kind == "token":
        if len(text) > MAX_PAGE_TOKEN:
            raise ValueError(f"must be at most {MAX_PAGE_TOKEN} characters")
        return text
    if param.kind == "datetime":
        return parse_rfc3339(text)
    if param.kind == "enum":
        if text not in param.choices:
            raise ValueError(f"must be one of {', '.join(param.choices)}")
        return text
    if param.kind == "text":
        if len(text) > MAX_PARTY:
            raise ValueError(f"must be 1-{MAX_PARTY} characters")
        if has_control(text):
            raise ValueError(CONTROL_RULE)
        return text
    if param.kind == "int":
        if not re.fullmatch(r"\d{1,10}", text) or int(text) > MAX_DURATION:
            raise ValueError("must be a whole number of seconds, e.g. 7")
        return int(text)
    if param.kind == "uuid":
        value = canonical_uuid(text)
        if value is None:
            raise ValueError(UUID_RULE)
        return value
    if param.kind == "tag":
        if len(text) > MAX_TAG_LENGTH:
            raise ValueError(f"must be 1-{MAX_TAG_LENGTH} characters")
        if has_control(text):
            raise ValueError(CONTROL_RULE)
        return text.lower()
    raise AssertionError(f"unknown parameter kind {param.kind}")


def _values(param: Param, raw_values: list[str]) -> list[str]:
    if param.kind == "enum":
        # Enumeration values contain no commas, so "busy,failed" is unambiguous.
        return [part.strip() for raw in raw_values for part in raw.split(",")]
    return raw_values


def parse_list_params(items: Iterable[tuple[str, str]], params: dict[str, Param], scope: str | None) -> ListRequest:
    """Parse ``(key, value)`` pairs of a list request for ``scope`` (a channel id, or None for
    the workspace-wide list). Raises :class:`InvalidRequest` naming every bad parameter."""
    problems = Problems()
    errors = problems.errors
    grouped: dict[str, list[str]] = {}
    for (name, op), given in group_keys(items, problems, malformed=UNSUPPORTED).items():
        if op:  # Bird has no bracket operators; ``name[]`` means ``name``
            problems.fail(label(name, op), UNSUPPORTED)
        else:
            grouped.setdefault(name, []).extend(given)
    settings: dict[str, Any] = {}
    limit, token = LIMIT_DEFAULT, None
    for name, raw_values in grouped.items():
        param = params.get(name)
        if param is None:
            errors.setdefault(name, []).append(UNSUPPORTED)
            continue
        if not param.repeatable and len(raw_values) > 1:
            errors.setdefault(name, []).append("must be given once")
            continue
        try:
            values = list(dict.fromkeys(_read(param, text) for text in _values(param, raw_values)))
        except ValueError as exc:
            errors.setdefault(name, []).append(str(exc))
            continue
        if param.max_values and len(values) > param.max_values:
            errors.setdefault(name, []).append(f"takes at most {param.max_values} values")
            continue
        if param.kind == "limit":
            limit = values[0]
        elif param.kind == "token":
            token = values[0]
        elif param.target is not None:
            settings[param.target] = tuple(values) if param.repeatable else values[0]
    start, end = settings.get("start_ms"), settings.get("end_ms")
    if start is not None and end is not None and end <= start:
        errors.setdefault("endAt", []).append("must be after startAt")
    problems.raise_if_any("Invalid query parameters.")
    return ListRequest(replace(ChannelCallQuery(scope=scope), **settings), limit, token)


def _enum(name: str, choices: tuple[str, ...], target: str, what: str, example: str) -> Param:
    return Param(
        name,
        "enum",
        f"{what}; repeat the parameter for any of several values.",
        target,
        repeatable=True,
        choices=choices,
        example=example,
    )


#: Every parameter of List calls from a channel (spec file 004), in the spec's order.
LIST_PARAMS: dict[str, Param] = {
    param.name: param
    for param in (
        Param("limit", "limit", f"Calls per page, 1-{LIMIT_MAX}.", example=25),
        Param(
            "pageToken",
            "token",
            "The `nextPageToken` of the previous page. Valid only with the filters it was issued for.",
        ),
        Param(
            "startAt",
            "datetime",
            "Calls created at or after this instant (inclusive), RFC 3339.",
            "start_ms",
            example="2024-02-28T16:54:33.241Z",
        ),
        Param(
            "endAt",
            "datetime",
            "Calls created before this instant (exclusive), RFC 3339.",
            "end_ms",
            example="2024-03-01T16:54:33.241Z",
        ),
        _enum("status", STATUSES, "statuses", "Call status", "completed"),
        _enum("type", CALL_TYPES, "types", "Call type", "pstn"),
        Param("to", "text", f"Exact `to` value, 1-{MAX_PARTY} characters.", "call_to", example="+3197058016589"),
        Param("from", "text", f"Exact `from` value, 1-{MAX_PARTY} characters.", "call_from", example="+351910648518"),
        Param("duration", "int", "Exact duration in whole seconds.", "duration", example=7),
        _enum("direction", DIRECTIONS, "directions", "Call direction", "incoming"),
        Param("id", "uuid", "The ID of a call.", "call_id", example="4fc2edf7-68f5-437a-89eb-3ce0095409d6"),
        Param(
            "tag",
            "tag",
            f"Calls carrying any of these tags (case-insensitive); repeatable, at most {MAX_TAG_VALUES}.",
            "tags",
            repeatable=True,
            max_values=MAX_TAG_VALUES,
            example="vip",
        ),
    )
}
#: The workspace-wide list takes the same parameters plus a repeatable ``channelId``.
WORKSPACE_PARAMS: dict[str, Param] = {
    **LIST_PARAMS,
    "channelId": Param(
        "channelId",
        "uuid",
        f"Calls of any of these channels; repeatable, at most {MAX_CHANNEL_VALUES}.",
        "channels",
        repeatable=True,
        max_values=MAX_CHANNEL_VALUES,
        example="a739d30b-8171-471c-9df4-591d4dd7bee5",
    ),
}
