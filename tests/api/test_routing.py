"""The indexed router answers every request exactly as Starlette's own router does."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.testclient import TestClient

from calltrail.api.routing import IndexedRouter, first_segment, indexed_app, literal_segment


def _answer(name: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return PlainTextResponse(f"{name} {request.path_params} {request.scope.get('root_path', '')}")

    return endpoint


def _routes() -> list[BaseRoute]:
    def route(path: str, name: str, methods: list[str] | None = None) -> Route:
        return Route(path, _answer(name), methods=methods)

    inner = [
        route("/calls", "list", ["GET"]),
        route("/calls/{id}", "get", ["GET"]),
        route("/calls/{id}", "put", ["PUT"]),
    ]
    return [
        route("/healthz", "health", ["GET"]),
        route("/docs", "docs"),
        Mount("/v3", routes=inner),
        Mount("/v3.0", routes=inner),
        route("/{anything}/catch", "catch", ["POST"]),  # begins with a parameter: tried for every path
        route("/calls/{id}", "top-level calls", ["DELETE"]),
        route("/{kind}/special", "special, any kind", ["GET"]),  # wins over the next for /docs/special
        route("/docs/special", "special docs", ["GET"]),
        route("/docs/{page}", "doc page"),
        Mount("/api", app=indexed_app([route("/keys/{key}", "key", ["GET"])])),
    ]


PATHS = [
    "/healthz", "/healthz/", "/docs", "/docs/", "/docs/intro", "/v3", "/v3/", "/v3/calls", "/v3/calls/",
    "/v3/calls/abc", "/v3.0/calls/abc", "/v3/calls/abc/", "/v3/other", "/x/catch", "/calls/1", "/api/keys/k",
    "/api/keys/", "/nowhere", "/", "/v3/calls/a%2Fb", "/HEALTHZ", "/docs/special",
]  # fmt: skip


def test_the_indexed_router_answers_as_starlettes_router() -> None:
    plain = TestClient(Starlette(routes=_routes()), follow_redirects=False)
    indexed = TestClient(indexed_app(_routes()), follow_redirects=False)
    assert isinstance(indexed.app.router, IndexedRouter)  # type: ignore[attr-defined]
    for path, method in itertools.product(PATHS, ["GET", "POST", "PUT", "DELETE", "HEAD"]):
        want, got = plain.request(method, path), indexed.request(method, path)
        assert (got.status_code, got.headers.get("location"), got.text) == (
            want.status_code,
            want.headers.get("location"),
            want.text,
        ), (method, path)


def test_routes_added_later_are_indexed_too() -> None:
    app = indexed_app([])
    client = TestClient(app)
    assert client.get("/late").status_code == 404
    app.router.routes.append(Route("/late", _answer("late")))
    assert client.get("/late").text.startswith("late")


def test_segments() -> None:
    assert first_segment("/v3/calls/x") == "v3" and first_segment("/healthz") == "healthz" and first_segment("/") == ""
    assert literal_segment(Route("/calls/{id}", _answer("x"))) == "calls"
    assert literal_segment(Route("/{id}/calls", _answer("x"))) == ""
    assert literal_segment(Route("/call{id}", _answer("x"))) == ""
    assert literal_segment(Mount("/v3.0", routes=[])) == "v3.0"


def test_a_lifespan_given_to_the_app_runs() -> None:
    ran: list[str] = []

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        ran.append("up")
        yield
        ran.append("down")

    with TestClient(indexed_app([Route("/x", _answer("x"))], lifespan=lifespan)) as client:
        assert client.get("/x").status_code == 200
    assert ran == ["up", "down"]
