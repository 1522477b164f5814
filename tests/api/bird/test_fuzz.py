"""Whatever a client sends, the Bird API answers 2xx or 4xx in its envelope, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from calltrail.store import Stores
from tests.api.bird.conftest import Workspace
from tests.conftest import QueryParams

NAMES = st.sampled_from(
    [
        "limit",
        "pageToken",
        "startAt",
        "endAt",
        "status",
        "type",
        "to",
        "from",
        "duration",
        "direction",
        "id",
        "tag",
        "channelId",
        "status[]",
        "x",
    ]
)
VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["0", "10", "1000", "-1", "busy", "pstn", "incoming", "2024-03-01T16:00:00Z", "W10.abc", "1e3"]),
    st.from_regex(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", fullmatch=True),
)
JSON = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
    ),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
EVENT = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.text(max_size=10), st.integers()),
        "callId": st.sampled_from(["4fc2edf7-68f5-437a-89eb-3ce0095409d6", "x", ""]),
        "status": st.sampled_from(["ringing", "completed", "nope"]),
        "at": st.one_of(
            st.sampled_from(["2024-03-01T16:00:00Z", "soon"]),
            st.floats(allow_nan=False, allow_infinity=False),
            st.integers(),
        ),
        "direction": JSON,
        "type": st.sampled_from(["pstn", "fax"]),
        "from": JSON,
        "to": st.text(max_size=5),
        "duration": JSON,
        "tags": JSON,
        "callFlow": JSON,
        "originator": JSON,
        "sipInsights": JSON,
    },
)

fuzz = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def ws(client: TestClient, stores: Stores, workspace: Workspace) -> Workspace:
    return workspace


@fuzz
@given(params=st.lists(st.tuples(NAMES, VALUES), max_size=5), workspace_wide=st.booleans())
def test_any_query_string(client: TestClient, ws: Workspace, params: QueryParams, workspace_wide: bool) -> None:
    response = client.get(ws.all_calls if workspace_wide else ws.calls, params=params, headers=ws.headers)
    assert response.status_code in (200, 422), response.text
    assert set(response.json()) <= {"results", "nextPageToken", "code", "message", "details"}


@fuzz
@given(body=st.one_of(JSON, st.lists(EVENT, max_size=3), EVENT))
def test_any_events_body(client: TestClient, ws: Workspace, body: Any) -> None:
    response = client.post(f"{ws.calls}/events", json=body, headers=ws.headers)
    assert response.status_code in (200, 409, 422), response.text


@fuzz
@given(
    body=st.one_of(
        JSON,
        st.dictionaries(
            st.sampled_from(
                [
                    "id",
                    "from",
                    "to",
                    "status",
                    "createdAt",
                    "updatedAt",
                    "originator",
                    "tags",
                    "hangupSource",
                    "callFlow",
                ]
            ),
            JSON,
            max_size=6,
        ),
    )
)
def test_any_record_body(client: TestClient, ws: Workspace, body: Any) -> None:
    response = client.put(ws.call("4fc2edf7-68f5-437a-89eb-3ce0095409d6"), json=body, headers=ws.headers)
    assert response.status_code in (200, 409, 422), response.text
