"""What an export holds per row: the scalar fields of each record kind, under their JSON names.

Pure: no I/O. Tabular formats (CSV) keep these columns, in this order; NDJSON keeps every field
of the record exactly as the list endpoint returns it. Timestamps stay as the JSON shows them
(Unix seconds for calls, RFC 3339 for phone calls).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import orjson

from calltrail.exports.base import TabularFormat
from calltrail.exports.ndjson import lines
from calltrail.exports.registry import FORMATS
from calltrail.sessions.record import SCALAR_FIELDS

#: A call's row: its record's scalar fields (each stored call keeps their values ready).
CALL_COLUMNS = SCALAR_FIELDS
PARTICIPANT_COLUMNS = (
    "sessionId",
    "uid",
    "deviceId",
    "isJoined",
    "state",
    "joinedAt",
    "leftAt",
    "totalAudioMinutes",
    "totalVideoMinutes",
    "totalDuration",
    "totalDurationInMinutes",
    "mid",
)
VOICE_COLUMNS = (
    "id",
    "channelId",
    "direction",
    "status",
    "type",
    "from",
    "to",
    "duration",
    "createdAt",
    "updatedAt",
    "ringingAt",
    "answeredAt",
    "endedAt",
    "scheduledFor",
    "hangupCauseCode",
    "hangupSource",
    "hangupSipCode",
    "reason",
    "parentId",
    "sipType",
    "mos",
    "pdd",
)


def participants(call: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """One row per participant entry of a call, with the call's ``sessionId`` first."""
    for entry in call.get("participants") or ():
        if isinstance(entry, Mapping):
            yield {"sessionId": call.get("sessionId"), **entry}


def voice_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """A phone call with ``qualityInsights.mos``/``.pdd`` brought up as ``mos``/``pdd``."""
    insights = record.get("qualityInsights")
    flat = dict(record)
    if isinstance(insights, Mapping):
        flat["mos"], flat["pdd"] = insights.get("mos"), insights.get("pdd")
    return flat


#: Turns a page of stored JSON documents into rows for a tabular format.
Rows = Callable[[list[bytes]], Iterable[Mapping[str, Any]]]


def without_list(document: bytes, member: bytes) -> bytes:
    """A stored record (compact JSON, as ``orjson`` writes it) without its top-level ``member``
    (``b',"participants":['``), when that is certain from a few byte searches; else unchanged.

    Every other member keeps its exact bytes, so it decodes to the same value: a tabular row of
    a call needs its scalar fields only, and the participant entries are most of each record
    (decoding them was most of the cost of a CSV row). It is certain when:

    * ``,"name":[`` is found: in valid JSON a ``"`` inside a string is escaped, so a ``"`` right
      after a comma delimits a string; it cannot close one (a string is followed by ``:``, ``,``,
      ``]`` or ``}``, not a letter), so it opens the key ``name``, and its value is an array;
    * no ``{`` or ``[`` comes before it but the record's own brace: the key is a member of the
      record itself, not of a nested object;
    * between the array's ``[`` and the first ``]`` after it there is no ``[``, no backslash and
      an even number of ``"``: each ``"`` opens or closes a string, so that ``]`` is outside every
      string, and with no array opened inside it is the one closing this array.
    """
    start = document.find(member)
    if start < 0 or document.find(b"{", 1, start) >= 0 or document.find(b"[", 0, start) >= 0:
        return document
    inside = start + len(member)
    end = document.find(b"]", inside)
    if (
        end < 0
        or document.find(b"[", inside, end) >= 0
        or document.find(b"\\", inside, end) >= 0
        or document.count(b'"', inside, end) % 2
    ):
        return document
    return document[:start] + document[end + 1 :]


_CALL_LISTS = (b',"participants":[', b',"recordings":[')


def call_scalars(document: bytes) -> dict[str, Any]:
    """A stored call record decoded without its participant entries and recordings (when
    :func:`without_list` can tell them apart): every scalar field, as :func:`orjson.loads` gives."""
    for member in _CALL_LISTS:
        document = without_list(document, member)
    record: dict[str, Any] = orjson.loads(document)
    return record


def call_rows(documents: list[bytes]) -> Iterable[Mapping[str, Any]]:
    """Call records (their scalar fields: what a tabular format keeps)."""
    return [call_scalars(document) for document in documents]


def participant_rows(documents: list[bytes]) -> Iterable[Mapping[str, Any]]:
    """Participant entries of call records."""
    return [row for document in documents for row in participants(orjson.loads(document))]


def voice_rows(documents: list[bytes]) -> Iterable[Mapping[str, Any]]:
    """Phone-call records, flattened for CSV."""
    return [voice_row(orjson.loads(document)) for document in documents]


#: Keys from a stored record's top level down to a value.
Path = tuple[str, ...]

#: Where each column of a call is in its stored record.
CALL_PATHS: tuple[Path, ...] = tuple((name,) for name in CALL_COLUMNS)
#: Where each column of a phone call is: ``mos``/``pdd`` inside ``qualityInsights`` (as
#: :func:`voice_row` brings them up; a stored record never has its own ``mos``/``pdd``, since
#: whole-record validation rejects unknown fields), the others at the top.
VOICE_PATHS: tuple[Path, ...] = tuple(
    ("qualityInsights", name) if name in ("mos", "pdd") else (name,) for name in VOICE_COLUMNS
)


class Kind(NamedTuple):
    """What an export kind holds and how it is read."""

    #: The columns a tabular format keeps, in order.
    columns: Sequence[str]
    #: Turns a page of stored documents into rows (for formats that need whole records).
    rows: Rows
    #: Whether NDJSON lines are the stored documents verbatim.
    verbatim: bool
    #: Where each column is in a stored document, when the database can read the values of a
    #: tabular format itself (one record per row); None when rows are not records (participants).
    paths: tuple[Path, ...] | None


KINDS: dict[str, Kind] = {
    "calls": Kind(CALL_COLUMNS, call_rows, True, CALL_PATHS),
    "participants": Kind(PARTICIPANT_COLUMNS, participant_rows, False, None),
    "voice": Kind(VOICE_COLUMNS, voice_rows, True, VOICE_PATHS),
}


def value_paths(format_name: str, kind: str) -> tuple[Path, ...] | None:
    """The paths the database reads for an export, one JSON array of values per record (see
    ``Connection.json_values``); None: it reads the stored documents."""
    if isinstance(FORMATS[format_name], TabularFormat):
        return KINDS[kind].paths
    return None


def _values(kind: Kind, text: bytes) -> list[Any]:
    """A record's column values from what the database read: its value array, or the document."""
    if text[:1] == b"[":
        values: list[Any] = orjson.loads(text)
        return values
    (row,) = kind.rows([text])
    return [row.get(name) for name in kind.columns]


def encode_page(format_name: str, kind: str, documents: list[bytes]) -> bytes:
    """A page of an export: stored JSON verbatim for NDJSON of whole records, a tabular format's
    rows from value arrays when :func:`value_paths` read those, else encoded rows."""
    described = KINDS[kind]
    export_format = FORMATS[format_name]
    if format_name == "ndjson" and described.verbatim:
        return lines(documents)
    if described.paths is not None and isinstance(export_format, TabularFormat):
        return export_format.values_page(documents, described.columns, lambda text: _values(described, text))
    return export_format.page(described.rows(documents), described.columns)


def file_name(kind: str, app_id: str, extension: str, date: str) -> str:
    """``calls-<app>-<date>.<ext>``."""
    return f"{kind}-{app_id}-{date}.{extension}"
