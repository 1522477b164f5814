"""``fetch_next`` / ``fetch_previous`` / ``iter_all`` semantics and error mapping, against a
fake server (``httpx.MockTransport``) that records every request it gets."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
import pytest

from calltrail_sdk import (
    APIError,
    AuthenticationError,
    BadRequestError,
    CallAppSettings,
    CallLogRequestBuilder,
    CalltrailClient,
    CalltrailError,
    ConflictError,
    InvalidResponseError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    RequestInProgressError,
    RequestTimeoutError,
    ServerError,
    TransportError,
)

SETTINGS = CallAppSettings(host="http://fake.test")


class FakeServer:
    """``total`` calls, served a page at a time as the user view does; counts requests."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.pages: list[int] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        page, per_page = int(request.url.params["page"]), int(request.url.params["perPage"])
        self.pages.append(page)
        start = (page - 1) * per_page
        ids = range(start, min(start + per_page, self.total))
        return httpx.Response(
            200,
            json={
                "data": [_record(f"s{n:03d}") for n in ids],
                "meta": {
                    "pagination": {
                        "total": self.total,
                        "count": len(ids),
                        "per_page": per_page,
                        "current_page": page,
                        "total_pages": -(-self.total // per_page),
                    }
                },
            },
        )


def _record(session: str) -> dict[str, Any]:
    return {
        "sessionId": session,
        "initiator": "a",
        "receiver": "b",
        "receiverType": "user",
        "type": "audio",
        "status": "ended",
        "initiatedAt": 1,
    }


def _request(server: Any, limit: int = 3) -> Any:
    http = httpx.Client(transport=httpx.MockTransport(server))
    return CallLogRequestBuilder(SETTINGS).set_auth_token("t").set_limit(limit).build(http)


def _ids(logs: list[Any]) -> list[int]:
    return [int(log.session_id[1:]) for log in logs]


def test_forward_back_and_the_ends() -> None:
    server = FakeServer(7)
    request = _request(server)
    assert (request.current_page, request.total_pages, request.has_next, request.has_previous) == (0, None, True, False)
    assert request.fetch_previous() == []  # nothing fetched yet: no request
    assert server.pages == []
    assert _ids(request.fetch_next()) == [0, 1, 2]
    assert (request.current_page, request.total_pages, request.total) == (1, 3, 7)
    assert request.fetch_previous() == []  # at the first page: no request
    assert _ids(request.fetch_next()) == [3, 4, 5]
    assert _ids(request.fetch_next()) == [6]
    assert not request.has_next
    assert request.fetch_next() == [] and request.fetch_next() == []  # past the end: no request
    assert _ids(request.fetch_previous()) == [3, 4, 5]
    assert _ids(request.fetch_previous()) == [0, 1, 2]
    assert request.fetch_previous() == []
    assert _ids(request.fetch_next()) == [3, 4, 5]
    assert server.pages == [1, 2, 3, 2, 1, 2]


def test_an_empty_history() -> None:
    server = FakeServer(0)
    request = _request(server)
    assert request.fetch_next() == []
    assert (request.current_page, request.total_pages, request.has_next) == (1, 0, False)
    assert request.fetch_next() == [] and request.fetch_previous() == []
    assert server.pages == [1]


def test_iter_all_walks_every_page_from_the_start() -> None:
    server = FakeServer(8)
    request = _request(server)
    request.fetch_next()
    assert _ids(list(request.iter_all())) == list(range(8))
    assert request.current_page == 1  # its own position is untouched
    assert server.pages == [1, 1, 2, 3]


def test_iter_all_yields_each_call_once_when_pages_shift() -> None:
    # A new call arrives after page 1 was read: everything moves down one place.
    calls = [f"s{n:03d}" for n in range(1, 7)]

    def server(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        if page == 2:
            calls.insert(0, "s000")
        chunk = calls[(page - 1) * 3 : page * 3]
        return httpx.Response(
            200,
            json={
                "data": [_record(s) for s in chunk],
                "meta": {
                    "pagination": {
                        "total": len(calls),
                        "count": len(chunk),
                        "per_page": 3,
                        "current_page": page,
                        "total_pages": -(-len(calls) // 3),
                    }
                },
            },
        )

    assert _ids(list(_request(server).iter_all())) == [1, 2, 3, 4, 5, 6]


def test_errors_leave_the_position_alone() -> None:
    answers: list[httpx.Response | httpx.ConnectError] = [
        httpx.Response(500, json={"error": {"code": "ERR_EXCEPTION", "message": "boom", "details": {}}}),
        httpx.ConnectError("refused"),
    ]
    inner = FakeServer(5)

    def server(request: httpx.Request) -> httpx.Response:
        if answers:
            answer = answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        return inner(request)

    request = _request(server)
    with pytest.raises(ServerError):
        request.fetch_next()
    with pytest.raises(TransportError):
        request.fetch_next()
    assert request.current_page == 0
    assert _ids(request.fetch_next()) == [0, 1, 2]


def test_a_wrong_page_in_the_answer_is_refused() -> None:
    def server(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "data": [],
                "meta": {"pagination": {"total": 9, "count": 0, "per_page": 3, "current_page": 1, "total_pages": 3}},
            },
        )

    request = _request(server)
    request.fetch_next()
    with pytest.raises(InvalidResponseError, match="page 2"):
        request.fetch_next()


@pytest.mark.parametrize(
    "body",
    [b"<html>proxy error</html>", b'{"data": {}}', b'{"data": []}', b'{"data": [], "meta": {"pagination": {}}}'],
)
def test_answers_that_are_not_a_call_list_are_refused(body: bytes) -> None:
    request = _request(lambda r: httpx.Response(200, content=body))
    with pytest.raises(InvalidResponseError):
        request.fetch_next()
    with pytest.raises(InvalidResponseError):
        request.fetch_next()  # and the request is not left busy


def test_a_second_fetch_while_one_is_in_flight_raises() -> None:
    entered, release = threading.Event(), threading.Event()
    inner = FakeServer(5)

    def server(request: httpx.Request) -> httpx.Response:
        entered.set()
        release.wait(10)
        return inner(request)

    request = _request(server)
    results: list[Any] = []
    worker = threading.Thread(target=lambda: results.append(request.fetch_next()))
    worker.start()
    assert entered.wait(10)
    with pytest.raises(RequestInProgressError):
        request.fetch_next()
    with pytest.raises(RequestInProgressError):
        request.fetch_previous()
    release.set()
    worker.join(10)
    assert _ids(results[0]) == [0, 1, 2]
    assert _ids(request.fetch_next()) == [3, 4]


def test_async_in_flight_and_paging() -> None:
    inner = FakeServer(5)

    async def server(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.05)
        return inner(request)

    async def main() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as http:
            request = CallLogRequestBuilder(SETTINGS).set_auth_token("t").set_limit(3).build_async(http)
            first = asyncio.ensure_future(request.fetch_next())
            await asyncio.sleep(0.01)
            with pytest.raises(RequestInProgressError):
                await request.fetch_next()
            assert _ids(await first) == [0, 1, 2]
            assert _ids(await request.fetch_next()) == [3, 4]
            assert await request.fetch_next() == []
            assert _ids(await request.fetch_previous()) == [0, 1, 2]
            assert await request.fetch_previous() == []
            assert _ids([log async for log in request.iter_all()]) == [0, 1, 2, 3, 4]

    asyncio.run(main())
    assert inner.pages == [1, 2, 1, 1, 2]


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (413, PayloadTooLargeError),
        (429, RateLimitError),
        (500, ServerError),
        (503, ServerError),
        (418, APIError),
    ],
)
def test_error_envelopes_map_to_exceptions(status: int, cls: type[APIError]) -> None:
    envelope = {"error": {"code": "SOME_CODE", "message": "it failed", "details": {"perPage": ["too big"]}}}
    request = _request(lambda r: httpx.Response(status, json=envelope))
    with pytest.raises(cls) as caught:
        request.fetch_next()
    error = caught.value
    assert type(error) is cls and isinstance(error, CalltrailError)
    assert (error.status, error.code, error.message, error.details) == (
        status,
        "SOME_CODE",
        "it failed",
        {"perPage": ["too big"]},
    )
    assert "perPage: too big" in str(error)
    assert error.request is not None and error.request.url.path == "/v3.0/calls"


def test_errors_without_an_envelope_still_map_by_status() -> None:
    request = _request(lambda r: httpx.Response(502, content=b"<html>Bad Gateway</html>"))
    with pytest.raises(ServerError) as caught:
        request.fetch_next()
    assert (caught.value.code, caught.value.message) == ("HTTP_502", "Bad Gateway")


def test_timeouts_are_transport_errors_and_builtin_timeouts() -> None:
    def server(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(RequestTimeoutError) as caught:
        _request(server).fetch_next()
    assert isinstance(caught.value, TransportError) and isinstance(caught.value, TimeoutError)
    assert "fake.test/v3.0/calls" in str(caught.value) and "page=" not in str(caught.value)  # no query string


def test_rest_client_sends_its_key_and_on_behalf_of() -> None:
    seen: list[httpx.Request] = []

    def server(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={
                "data": [],
                "meta": {"pagination": {"total": 0, "count": 0, "per_page": 10, "current_page": 1, "total_pages": 0}},
            },
        )

    http = httpx.Client(transport=httpx.MockTransport(server))
    with CalltrailClient("http://fake.test/", "key-1", on_behalf_of="ava", http_client=http) as client:
        assert client.base_url == "http://fake.test/v3"
        client.list_calls(per_page=10)
        client.list_calls(per_page=10, on_behalf_of="ben")
        assert list(client.iter_calls()) == []
    assert [r.headers["apikey"] for r in seen] == ["key-1"] * 3
    assert [r.headers["onBehalfOf"] for r in seen] == ["ava", "ben", "ava"]
    assert not http.is_closed  # the caller's client stays open
    http.close()


@pytest.mark.parametrize(
    ("call", "word"),
    [
        (lambda c: c.list_calls(page=0), "page"),
        (lambda c: c.list_calls(per_page=1001), "per_page"),
        (lambda c: c.list_calls(where={"status": "ended"}), "where"),
        (lambda c: c.get_call("a/b"), "session_id"),
        (lambda c: c.get_call("x", on_behalf_of="a b"), "on_behalf_of"),
        (lambda c: c.put_call({"status": "ended"}), "sessionId"),
        (lambda c: c.put_user("a b", "A"), "uid"),
        (lambda c: c.create_auth_token("u", force="yes"), "force"),
        (lambda c: c.send_events([]), "events"),
        (lambda c: c.revoke_auth_token("u", ""), "token"),
    ],
)
def test_rest_client_checks_arguments_before_sending(call: Any, word: str) -> None:
    http = httpx.Client(transport=httpx.MockTransport(lambda r: pytest.fail("nothing may be sent")))
    with CalltrailClient("http://fake.test", "key", http_client=http) as client, pytest.raises(ValueError, match=word):
        call(client)
    http.close()


def test_rest_client_refuses_bad_construction() -> None:
    with pytest.raises(ValueError, match="api_key"):
        CalltrailClient("http://fake.test", "")
    with pytest.raises(ValueError, match="base_url"):
        CalltrailClient("fake.test", "key")
