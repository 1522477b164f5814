"""Reading whole call records from files for ``calltrail import``.

Three shapes are accepted: a List Calls response (``{"data": [...], "meta": ...}``), a Get
Call response (``{"data": {...}}``) and NDJSON with one record or get response per line. Every
record is validated on its own; a bad one is reported with its position and skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import IO, Any

import orjson

from calltrail.kernel.errors import InvalidRequest
from calltrail.sessions.record import validate_record
from calltrail.store.sessions import SessionStore
from calltrail.store.usage_backlog import tidy, tidying

BATCH = 1000


@dataclass
class ImportReport:
    """How many records were stored and how many were skipped as invalid."""

    imported: int = 0
    skipped: int = 0


def read_records(name: str, data: bytes) -> tuple[list[tuple[str, Any]], list[str]]:
    """Split a file into ``(position, record)`` pairs; returns them and any unreadable lines."""
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError:
        document = None
        whole_failed = True
    else:
        whole_failed = False
    if not whole_failed:
        if isinstance(document, dict) and isinstance(document.get("data"), list):
            return [(f"{name}: data[{i}]", item) for i, item in enumerate(document["data"])], []
        if isinstance(document, list):
            return [(f"{name}: [{i}]", item) for i, item in enumerate(document)], []
        return [(f"{name}: record", document)], []
    records, problems = [], []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append((f"{name}: line {number}", orjson.loads(line)))
        except orjson.JSONDecodeError as exc:
            problems.append(f"{name}: line {number}: not JSON ({exc})")
    return records, problems


def _describe(error: InvalidRequest) -> str:
    return "; ".join(f"{field}: {', '.join(reasons)}" for field, reasons in error.details.items()) or error.message


def import_records(
    store: SessionStore,
    app_id: str,
    files: Iterable[IO[bytes]],
    *,
    progress: Callable[[int, str], Any],
    warn: Callable[[str], None],
) -> ImportReport:
    """Validate and store every record of ``files``; idempotent (a record replaces itself)."""
    report = ImportReport()
    # The rollups' backlog, emptied again by every few batches (``tidy`` looked up at each call).
    full_batch_stored = tidying(lambda: tidy(store.db))
    for handle in files:
        name = getattr(handle, "name", "-")
        name = "stdin" if name in ("-", "<stdin>") else str(name)
        records, problems = read_records(name, handle.read())
        for problem in problems:
            warn(problem)
        report.skipped += len(problems)
        batch: list[dict[str, Any]] = []
        with progress(len(records), f"importing {name}") as bar:
            for position, raw in records:
                try:
                    batch.append(validate_record(raw))
                except InvalidRequest as exc:
                    warn(f"{position}: {_describe(exc)}")
                    report.skipped += 1
                if len(batch) >= BATCH:
                    report.imported += _flush(store, app_id, batch)
                    batch = []
                    full_batch_stored()
                bar.update(1)
            report.imported += _flush(store, app_id, batch)
    return report


def _flush(store: SessionStore, app_id: str, batch: Sequence[dict[str, Any]]) -> int:
    if batch:
        store.put_records(app_id, batch)
    return len(batch)
