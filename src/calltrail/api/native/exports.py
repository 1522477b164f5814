"""``GET /api/exports/calls|participants|voice?format=ndjson|csv``: every matching call, newest
first, streamed in constant memory from one snapshot (:mod:`calltrail.store.exports`).

Worker trips: the first trip authenticates and opens the snapshot, the second reads the first
page; each further page of 1000 calls is one trip, made while the page before it is being sent;
the last closes the snapshot. The response starts only after the first page was read, so bad
credentials or parameters are a plain error answer (401, 400). If the client goes away, the
snapshot is closed all the same.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import anyio
from anyio.streams.memory import MemoryObjectSendStream
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Send

from calltrail.api.http import parse_now, run
from calltrail.api.native.keys import authenticate
from calltrail.exports.records import KINDS, encode_page, file_name, value_paths
from calltrail.exports.registry import FORMATS
from calltrail.kernel.errors import CalltrailError
from calltrail.kernel.instants import format_rfc3339, now_ms
from calltrail.store import Stores
from calltrail.store.exports import ExportCursor
from calltrail.usage.params import CallExportRequest, VoiceExportRequest, parse_call_export, parse_voice_export


def _file_name(kind: str, app_id: str, extension: str) -> str:
    return file_name(kind, app_id, extension, format_rfc3339(now_ms())[:10])


class ExportEndpoints:
    """The request handlers of ``/api/exports/*``."""

    def __init__(self, stores: Stores):
        self.stores = stores

    async def calls(self, request: Request) -> Response:
        """Whole call records (CSV: their scalar fields)."""
        return await self._export(request, "calls")

    async def participants(self, request: Request) -> Response:
        """One row per participant entry, with its call's ``sessionId``."""
        return await self._export(request, "participants")

    async def voice(self, request: Request) -> Response:
        """Whole phone-call records (CSV: their scalar fields, ``mos``/``pdd`` included)."""
        return await self._export(request, "voice")

    async def _export(self, request: Request, kind: str) -> Response:
        items = request.query_params.multi_items()
        parsed: CallExportRequest | VoiceExportRequest | CalltrailError = (
            parse_now(parse_voice_export, items) if kind == "voice" else parse_now(parse_call_export, items)
        )

        def open_cursor() -> tuple[str, str, ExportCursor]:
            with self.stores.db.read():
                key = authenticate(self.stores, request)
            if isinstance(parsed, CalltrailError):
                raise parsed  # reported after the credentials were checked
            checked = parsed
            paths = value_paths(checked.format, kind)
            if isinstance(checked, VoiceExportRequest):
                cursor = self.stores.exports.voice(key.app_id, checked.query, paths=paths)
            else:
                cursor = self.stores.exports.calls(key.app_id, checked.query, paths=paths)
            return key.app_id, checked.format, cursor

        app_id, chosen, cursor = await run(open_cursor)
        return await _stream(kind, app_id, chosen, cursor)


async def _stream(kind: str, app_id: str, chosen: str, cursor: ExportCursor) -> StreamingResponse:
    export_format = FORMATS[chosen]
    columns = KINDS[kind].columns

    def next_chunk(first: bool) -> bytes:
        """One page read and encoded in one worker trip (the event loop never encodes)."""
        try:
            page = encode_page(chosen, kind, cursor.next_page())
        except BaseException:
            cursor.close()
            raise
        return export_format.header(columns) + page if first else page

    # The first page before the response starts: a failure is still a plain error answer.
    head = await run(next_chunk, True)
    name = _file_name(kind, app_id, export_format.extension)
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    return _ExportResponse(head, cursor, next_chunk, media_type=export_format.media_type, headers=headers)


class _ExportResponse(StreamingResponse):
    """Sends an export's pages while the next one is read: a producer task reads and encodes each
    page in a worker trip and hands it over (no buffer: it waits until the sender takes it), so
    page N+1 is read and encoded while page N goes out (and the cursor reads N+2 on a thread of
    its own). At most four pages are held: the one being sent, the one read ahead, the one being
    encoded, the one the cursor reads.

    Whatever ends the stream (the last page, an error, a client that went away and cancelled
    it), the snapshot is closed once no worker trip uses the cursor any more."""

    def __init__(
        self,
        head: bytes,
        cursor: ExportCursor,
        next_chunk: Callable[[bool], bytes],
        media_type: str,
        headers: dict[str, str],
    ):
        super().__init__(_no_body(), media_type=media_type, headers=headers)
        self.head = head
        self.cursor = cursor
        self.next_chunk = next_chunk

    async def stream_response(self, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
            await send({"type": "http.response.body", "body": self.head, "more_body": True})
            try:
                async with anyio.create_task_group() as group:
                    ahead, taken = anyio.create_memory_object_stream[bytes]()
                    group.start_soon(self._read_ahead, ahead)
                    async with taken:
                        async for chunk in taken:
                            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            except BaseExceptionGroup as errors:
                # One error (a client gone: OSError) is raised as itself, as Starlette expects.
                if len(errors.exceptions) == 1:
                    raise errors.exceptions[0] from None
                raise
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            # Shielded: a client that went away cancels the stream, never the snapshot's end.
            with anyio.CancelScope(shield=True):
                await run(self.cursor.close)

    async def _read_ahead(self, ahead: MemoryObjectSendStream[bytes]) -> None:
        async with ahead:
            while not self.cursor.done:
                chunk = await run(self.next_chunk, False)
                if chunk:
                    await ahead.send(chunk)


async def _no_body() -> AsyncIterator[bytes]:
    """The unused body iterator of :class:`_ExportResponse` (it sends its own pages)."""
    return
    yield  # an async generator
