"""Starlette apps whose router tries only the routes a path can match.

Starlette's router tries its routes in order until one matches, each a regular expression over
the path: a ``GET /v3/calls/{id}`` passed ``/healthz``, ``/metrics``, ``/openapi.json`` and
``/docs`` before reaching the ``/v3`` mount, some 5 µs of a 60 µs request. Most routes begin with
a literal segment (``calls``, ``v3``), and a path whose first segment differs cannot match them.
:class:`IndexedRouter` groups the routes by that segment and tries only the request's group (and
the routes that begin with a parameter), in their order, so the first full match is the one
Starlette would take. Everything else (405 for a partial match, the trailing-slash redirect,
404) is left to Starlette's own router, which then runs as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette._utils import get_route_path
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Match, Mount, Route, Router
from starlette.types import Lifespan, Receive, Scope, Send

#: The group of routes that do not begin with a literal segment: tried for every path.
_ANY = ""


def first_segment(path: str) -> str:
    """The first segment of a path: ``v3`` for ``/v3/calls``, ``healthz`` for ``/healthz``."""
    return path[1:].partition("/")[0]


def literal_segment(route: BaseRoute) -> str:
    """The literal first segment every path the route matches begins with, or :data:`_ANY`
    when it begins with a parameter or the route is of another kind."""
    if not isinstance(route, Route | Mount):
        return _ANY
    segment = first_segment(route.path)
    return _ANY if not segment or "{" in segment else segment


class IndexedRouter(Router):
    """Starlette's router, trying first only the routes the path's first segment can match."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._groups: dict[str, list[BaseRoute]] = {}
        self._indexed = -1  # how many routes the groups hold

    def _group(self, segment: str) -> list[BaseRoute]:
        if self._indexed != len(self.routes):  # a route added after construction (add_route)
            self._index()
        return self._groups.get(segment) or self._groups.get(_ANY, [])

    def _index(self) -> None:
        segments = {literal_segment(route) for route in self.routes}
        self._groups = {
            segment: [route for route in self.routes if literal_segment(route) in (segment, _ANY)]
            for segment in segments | {_ANY}
        }
        self._indexed = len(self.routes)

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for route in self._group(first_segment(get_route_path(scope))):
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope.setdefault("router", self)
                    scope["route"] = route
                    scope.update(child_scope)
                    await route.handle(scope, receive, send)
                    return
        await super().app(scope, receive, send)


def indexed_app(routes: Sequence[BaseRoute], *, lifespan: Lifespan[Any] | None = None, **options: Any) -> Starlette:
    """A Starlette app over ``routes`` (``lifespan`` and ``options`` as Starlette takes them)
    routed by an :class:`IndexedRouter`, made as Starlette makes its own router."""
    app = Starlette(**options)
    app.router = IndexedRouter(routes=list(routes), lifespan=lifespan)
    return app
