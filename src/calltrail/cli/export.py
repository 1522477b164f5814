"""``calltrail export calls|voice|participants``: what ``GET /api/exports/*`` streams, to a file.

The same grammar (``--filter NAME=VALUE`` takes the list filters the HTTP export takes), the
same snapshot and keyset pages (:mod:`calltrail.store.exports`), the same encoders; as over
HTTP, the next page is read while this one is written. A progress bar is drawn on a terminal
only; the file (or stdout) receives nothing but the export.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import IO, Any

import click

from calltrail.cli.common import _stores, db_option
from calltrail.exports.records import KINDS as EXPORT_KINDS
from calltrail.exports.records import encode_page, file_name, value_paths
from calltrail.exports.registry import FORMATS
from calltrail.kernel.instants import format_rfc3339, now_ms
from calltrail.sessions.pages import PageRequest
from calltrail.store import Stores
from calltrail.store.exports import ExportCursor
from calltrail.usage.params import parse_call_export, parse_voice_export

KINDS = ("calls", "voice", "participants")


def _pairs(filters: tuple[str, ...]) -> list[tuple[str, str]]:
    pairs = []
    for text in filters:
        name, sep, value = text.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{text!r} is not NAME=VALUE", param_hint="--filter")
        pairs.append((name, value))
    return pairs


def _open(
    stores: Stores, kind: str, app_id: str, chosen: str, pairs: list[tuple[str, str]]
) -> tuple[ExportCursor, int | None]:
    """The cursor, and the number of calls when it is known cheaply (for the progress bar)."""
    items = [("format", chosen), *pairs]
    paths = value_paths(chosen, kind)
    if kind == "voice":
        voice = parse_voice_export(items)
        return stores.exports.voice(app_id, voice.query, paths=paths), None
    calls = parse_call_export(items)
    total = stores.sessions.find(app_id, calls.query, PageRequest(1, 1)).total
    return stores.exports.calls(app_id, calls.query, paths=paths), total


@contextmanager
def _output(out: str | None) -> Iterator[IO[bytes]]:
    if out is None or out == "-":
        yield sys.stdout.buffer
        return
    with open(out, "wb") as handle:
        yield handle


@click.command("export")
@click.argument("kind", type=click.Choice(KINDS))
@click.option("--app", "app_id", required=True, metavar="APP_ID", help="The app to export.")
@click.option("--format", "chosen", type=click.Choice(tuple(FORMATS)), default="ndjson", show_default=True)
@click.option("--out", metavar="FILE", help="Write here (default: stdout). `-` is stdout.")
@click.option(
    "--filter",
    "filters",
    multiple=True,
    metavar="NAME=VALUE",
    help="A list filter, repeatable: status=ended, initiatedAt[gte]=1767225600, channelId=<uuid>...",
)
@db_option
def export(kind: str, app_id: str, chosen: str, out: str | None, filters: tuple[str, ...], db_url: str) -> None:
    """Export every matching call (or participant entry) newest first, from one snapshot.

    \b
    calltrail export calls --app demo --format csv --out calls.csv --filter status=ended
    calltrail export participants --app demo --format csv --filter initiatedAt[gte]=1767225600
    """
    pairs = _pairs(filters)
    with _stores(db_url) as stores:
        stores.tenants.require_app(app_id)
        cursor, total = _open(stores, kind, app_id, chosen, pairs)
        try:
            written = _write(cursor, kind, chosen, out, total)
        finally:
            cursor.close()
    target = out if out not in (None, "-") else "stdout"
    suggested = file_name(kind, app_id, FORMATS[chosen].extension, format_rfc3339(now_ms())[:10])
    what = "calls" if kind != "participants" else "calls' participants"
    click.echo(f"exported {written} {what} to {target} (suggested name {suggested})", err=True)


def _write(cursor: ExportCursor, kind: str, chosen: str, out: str | None, total: int | None) -> int:
    columns = EXPORT_KINDS[kind].columns
    written = 0
    show = sys.stderr.isatty()
    bar: Any = click.progressbar(length=total or 0, label=f"exporting {kind}", file=sys.stderr, show_pos=True)
    with _output(out) as handle, bar if show else _quiet() as progress, _pages(cursor, kind, chosen) as pages:
        handle.write(FORMATS[chosen].header(columns))
        for count, chunk in pages:
            handle.write(chunk)
            written += count
            if progress is not None:
                progress.update(count)
    return written


@contextmanager
def _pages(cursor: ExportCursor, kind: str, chosen: str) -> Iterator[Iterator[tuple[int, bytes]]]:
    """The encoded pages in order (with their number of calls), each read and encoded in a worker
    thread while the page before it is written. On leaving, the page being read is waited for,
    so the cursor is free to close."""

    def read() -> tuple[int, bytes]:
        documents = cursor.next_page()
        return len(documents), encode_page(chosen, kind, documents)

    def pages() -> Iterator[tuple[int, bytes]]:
        ahead: Future[tuple[int, bytes]] | None = reader.submit(read)
        while ahead is not None:
            page = ahead.result()
            ahead = reader.submit(read) if not cursor.done else None
            yield page

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="export") as reader:
        yield pages()


@contextmanager
def _quiet() -> Iterator[None]:
    yield None
