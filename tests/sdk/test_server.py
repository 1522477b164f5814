"""The SDK against a running ``calltrail serve`` process (real sockets, real databases).

The history is loaded through the SDK's REST client, then read back through the user view
with the sync and the async ``CallLogRequest``, forward and back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from calltrail.kernel.tenancy import new_app_settings
from calltrail.store import open_stores
from calltrail_sdk import (
    AsyncCalltrailClient,
    AuthenticationError,
    CallAppSettings,
    CallFilter,
    CallLogRequestBuilder,
    CalltrailClient,
    NotFoundError,
    Range,
    TransportError,
    get_call_details,
)
from tests.conftest import Server, free_port
from tests.user_calls import GROUPS, IMPORTED, ME, USERS, all_events, expected, newest_first

pytestmark = pytest.mark.e2e


def _key(db_url: str) -> str:
    stores = open_stores(db_url)
    try:
        stores.tenants.create_app(new_app_settings("SDK", "sdk"))
        secret, _ = stores.tenants.create_key("sdk")
    finally:
        stores.close()
    return secret


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_sdk_against_a_running_server(
    server_factory: Callable[..., Server], database_url: Callable[[str], str], backend: str
) -> None:
    db_url = database_url(backend)
    key = _key(db_url)
    server = server_factory(db_url)

    with CalltrailClient(server.base_url, key) as client:
        assert client.send_events(all_events()).accepted == len(all_events())
        client.put_call(IMPORTED)
        for uid, (name, avatar) in USERS.items():
            client.put_user(uid, name, avatar)
        for guid, (name, icon) in GROUPS.items():
            client.put_group(guid, name, icon)
        token = client.create_auth_token(ME).auth_token
        assert token is not None
        assert len(list(client.iter_calls(CallFilter(initiated_at=Range(gte=0)), per_page=4))) == 18

    # As the official SDK is set up: the URL up to /v3.0/.
    settings = CallAppSettings(host=f"{server.base_url}/v3.0/", app_id="sdk")
    request = CallLogRequestBuilder(settings).set_auth_token(token).set_limit(5).build()
    pages = []
    while page := request.fetch_next():
        pages.append([log.session_id for log in page])
    everything = newest_first(set(expected(ME)))
    assert [sid for page in pages for sid in page] == everything
    assert [[log.session_id for log in request.fetch_previous()] for _ in range(3)] == pages[-2::-1]
    assert request.fetch_previous() == []

    missed = CallLogRequestBuilder(CallAppSettings(host=server.base_url)).set_auth_token(token)
    logs = list(missed.set_call_status("missed").set_call_direction("incoming").build().iter_all())
    assert [log.session_id for log in logs] == ["c18", "c09", "c07", "c04", "c03", "c02"]
    assert {log.initiator.name for log in logs} == {"Bob Baker", "Carol Cole", "dave"}

    (details,) = get_call_details(settings, "c07", token)
    assert (details.direction, details.missed, details.receiver.name) == ("incoming", True, "The Team")
    with pytest.raises(NotFoundError):
        get_call_details(settings, "no-such-call", token)

    async def main() -> None:
        request = CallLogRequestBuilder(settings).set_auth_token(token).set_guid("team").set_limit(2).build_async()
        forward = []
        while page := await request.fetch_next():
            forward.append([log.session_id for log in page])
        assert forward == [["c16", "c13"], ["c10", "c09"], ["c08", "c07"]]
        assert [log.session_id for log in await request.fetch_previous()] == ["c10", "c09"]
        async with AsyncCalltrailClient(server.base_url, key) as client:
            assert await client.revoke_auth_tokens(ME) == 1
        with pytest.raises(AuthenticationError):
            await request.fetch_next()

    asyncio.run(main())


def test_transport_errors_name_the_request() -> None:
    settings = CallAppSettings(host=f"http://127.0.0.1:{free_port()}", timeout=5)
    request = CallLogRequestBuilder(settings).set_auth_token("t").build()
    with pytest.raises(TransportError, match=r"GET http://127\.0\.0\.1:\d+/v3\.0/calls"):
        request.fetch_next()
    assert request.current_page == 0 and request.has_next
