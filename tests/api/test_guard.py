"""The middleware's own pieces: request ids, header lookup, and CORS's answer to non-browser calls."""

from __future__ import annotations

import asyncio
import re
import uuid

import pytest
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Message, Receive, Scope, Send

from calltrail.api.guard import CORS, header, request_id


def test_new_request_ids_look_like_uuid4_hex() -> None:
    made = {request_id(None) for _ in range(200)}
    assert len(made) == 200
    for made_id in made:
        assert re.fullmatch(r"[0-9a-f]{32}", made_id) and uuid.UUID(made_id).version == 4
    assert request_id("trace-42.a") == "trace-42.a" and request_id("bad id") != "bad id"


def test_header_reads_the_first_value_as_starlette_would() -> None:
    scope: Scope = {"headers": [(b"apikey", b"one"), (b"x-request-id", b"caf\xe9"), (b"apikey", b"two")]}
    assert header(scope["headers"], b"apikey") == "one"
    assert header(scope["headers"], b"x-request-id") == "café"
    assert header(scope["headers"], b"origin") is None


def _answer(headers: list[tuple[bytes, bytes]]) -> object:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": list(headers)})
        await send({"type": "http.response.body", "body": b"{}"})

    return app


Headers = list[tuple[bytes, bytes]]


def _headers_sent(middleware: type[CORSMiddleware], response_headers: Headers, origin: bytes | None) -> Headers:
    answer = _answer(response_headers)
    app = middleware(answer, allow_origins=["https://a.example"], allow_headers=["apikey"])  # type: ignore[arg-type]
    request = [(b"host", b"x")] + ([(b"origin", origin)] if origin else [])
    scope = {"type": "http", "method": "GET", "path": "/v3/calls", "headers": request}
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return list(sent[0]["headers"])


@pytest.mark.parametrize(
    "response_headers",
    [
        [],
        [(b"content-type", b"application/json")],
        [(b"vary", b"Accept-Encoding"), (b"content-length", b"2")],
        [(b"vary", b"Accept"), (b"x", b"1"), (b"vary", b"Cookie")],
    ],
)
@pytest.mark.parametrize("origin", [None, b"https://a.example", b"https://elsewhere.example"])
def test_cors_answers_exactly_as_starlettes(response_headers: Headers, origin: bytes | None) -> None:
    assert _headers_sent(CORS, response_headers, origin) == _headers_sent(CORSMiddleware, response_headers, origin)
