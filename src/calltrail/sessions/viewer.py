"""The query-string grammar of the user view (``GET /v3.0/calls`` with an ``authToken``).

Pure: no I/O. The table is the REST table of :mod:`calltrail.sessions.filters` plus the parameters
CometChat's client SDKs send (``direction``, ``guid``, ``status=missed``), with ``uid``
narrowed to the calls between the viewer and that user. :func:`user_query` turns a parsed
request into a :class:`~calltrail.sessions.query.CallQuery` that always starts with the viewer, so the
store reads it from the viewer's own call index.

The per-user rules (also in docs/user-call-logs.md):

* ``direction``: ``outgoing`` when the viewer initiated the call, else ``incoming``.
* ``status=missed``: the viewer did not initiate the call, never joined it, did not reject
  it, and the call is over (not ``initiated`` or ``ongoing``). This covers 1:1 calls that
  ended ``unanswered``, ``cancelled`` or ``busy``, and group calls others answered.
* ``uid``: 1:1 calls between the viewer and that user; ``guid``: calls to that group.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from calltrail.sessions.filters import LIST_CALLS_PARAMS, STATUS_CHOICES, ParamSpec, ParsedParams, parse_params
from calltrail.sessions.query import CallQuery

PER_PAGE_DEFAULT = 30
PER_PAGE_MAX = 100
DIRECTIONS = ("incoming", "outgoing")
MISSED = "missed"


def _user_params() -> dict[str, ParamSpec]:
    specs = dict(LIST_CALLS_PARAMS)
    # ``missed`` is not a column: it is the viewer's flag, applied by :func:`user_query`.
    specs["status"] = replace(
        specs["status"],
        column=None,
        choices={**STATUS_CHOICES, MISSED: MISSED},
        description="Call status; `canceled` is read as `cancelled`. `missed`: calls you did not initiate, never "
        "joined and did not reject, that are over.",
    )
    specs["mode"] = replace(specs["mode"], description="Call mode, shown as `callCategory` (`call`, `meet`, ...).")
    specs["uid"] = replace(specs["uid"], description="Only 1:1 calls between you and this user.")
    specs["guid"] = ParamSpec("guid", "entity", "Only calls to this group.", example="team-support")
    specs["direction"] = ParamSpec(
        "direction",
        "enum",
        "`outgoing`: calls you initiated; `incoming`: every other call you are part of.",
        choices={direction: direction for direction in DIRECTIONS},
        example="incoming",
    )
    return specs


#: Every parameter of the user view: the REST filters plus the client SDKs' own.
USER_CALL_PARAMS: dict[str, ParamSpec] = _user_params()


def parse_user_params(items: Iterable[tuple[str, str]]) -> ParsedParams:
    """Parse a user-view query string; raises :class:`~calltrail.kernel.errors.InvalidRequest`
    naming every bad parameter (``perPage`` is 1..100, default 30)."""
    return parse_params(items, USER_CALL_PARAMS, per_page_default=PER_PAGE_DEFAULT, per_page_max=PER_PAGE_MAX)


def user_query(parsed: ParsedParams, viewer: str) -> CallQuery:
    """The calls ``viewer`` asked for: theirs, narrowed by every parameter.

    The viewer's condition comes first, carrying the per-user flags (``missed``,
    ``is_initiator``), so the store drives the query from that user's index.
    """
    values: Mapping[str, object] = parsed.values
    flags: dict[str, bool] = {}
    direction = values.get("direction")
    if direction is not None:
        flags["is_initiator"] = direction == "outgoing"
    status = values.get("status")
    if status == MISSED:
        flags["missed"] = True
    query = CallQuery().involving(viewer, **flags)
    if status is not None and status != MISSED:
        query = query.where("status", "eq", status)
    other = values.get("uid")
    if other is not None:
        # Both ends of a 1:1 call are the viewer and ``other``; the viewer's own condition
        # already holds, so this leaves exactly the calls between the two of them.
        pair = tuple(dict.fromkeys((viewer, str(other))))
        query = query.where("receiver_type", "eq", "user").where("initiator", "in", pair).where("receiver", "in", pair)
    group = values.get("guid")
    if group is not None:
        query = query.where("receiver_type", "eq", "group").where("receiver", "eq", group)
    for condition in parsed.query.conditions:
        query = query.where(condition.column, condition.op, condition.value)
    return query
