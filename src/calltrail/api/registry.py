"""Every wire dialect the server speaks: adding one is a package under ``api/`` plus one line here.

A dialect's routes are mounted at its path prefixes on the one app (no app of its own: one
layer of middleware and error handling for every request), every error under them is rendered
in its own envelope, and it contributes its fragments to the OpenAPI document. Dialects never
import each other; only :mod:`calltrail.app` reads this table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starlette.responses import Response
from starlette.routing import BaseRoute

from calltrail.api import bird, cometchat, hooks, native
from calltrail.api.bird import envelope as bird_envelope
from calltrail.api.bird import openapi as bird_openapi
from calltrail.api.cometchat import envelope as cometchat_envelope
from calltrail.api.cometchat import openapi as cometchat_openapi
from calltrail.api.cometchat import user_openapi
from calltrail.api.hooks import openapi as hooks_openapi
from calltrail.api.http import render_error_envelope
from calltrail.api.native import openapi as native_openapi
from calltrail.api.native import webhooks_openapi
from calltrail.api.openapi import Fragment
from calltrail.kernel.errors import CalltrailError
from calltrail.store import Stores


@dataclass(frozen=True)
class Dialect:
    """One wire dialect: where it is mounted, how it is built, how it is documented."""

    mounts: tuple[str, ...]
    #: The dialect's routes, relative to each mount.
    routes: Callable[[Stores], list[BaseRoute]]
    openapi: tuple[Fragment, ...]
    #: How the dialect renders every error under its mounts: its handlers' (a 400, 401, 404, a
    #: 500) and those answered before routing (a 429, 431 or 503 of :mod:`calltrail.api.gate`).
    render: Callable[[CalltrailError], Response]


DIALECTS: dict[str, Dialect] = {
    "cometchat": Dialect(
        ("/v3", "/v3.0"),
        cometchat.routes,
        ((cometchat_openapi.paths, cometchat_openapi.components), (user_openapi.paths, user_openapi.components)),
        cometchat_envelope.render,
    ),
    "bird": Dialect(
        ("/workspaces",), bird.routes, ((bird_openapi.paths, bird_openapi.components),), bird_envelope.render
    ),
    "hooks": Dialect(
        ("/hooks",), hooks.routes, ((hooks_openapi.paths, hooks_openapi.components),), render_error_envelope
    ),
    "native": Dialect(
        ("/api",),
        native.routes,
        ((native_openapi.paths, native_openapi.components), (webhooks_openapi.paths, webhooks_openapi.components)),
        render_error_envelope,
    ),
}
