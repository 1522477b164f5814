"""The one event-log engine, through both call domains: whole imports of any size under bounded
locking on PostgreSQL, and a phone call kept in its channel. (The locks themselves, bounded and per
app: tests/store/database/.)"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from calltrail.kernel.errors import Conflict
from calltrail.sessions.pages import PageRequest
from calltrail.sessions.query import CallQuery
from calltrail.sessions.record import validate_record
from calltrail.store import Stores
from calltrail.voice.record import validate_record as validate_voice_record
from calltrail.voice.vocabulary import new_channel_settings
from tests.conftest import Tenant

IMPORT_SIZE = 100_000


def _record(index: int) -> dict[str, Any]:
    return validate_record(
        {
            "sessionId": f"bulk-{index:06d}",
            "initiator": f"u{index % 97}",
            "receiver": f"u{(index + 1) % 97}",
            "receiverType": "user",
            "type": "audio",
            "status": "ended",
            "initiatedAt": 1_700_000_000 + index,
        }
    )


@pytest.mark.slow
def test_an_import_of_100000_records_succeeds_in_one_call(stores: Stores, tenant: Tenant) -> None:
    """A stock PostgreSQL has 64 lock slots per connection: one lock per record would run out
    (``out of shared memory``). The import takes one bulk lock instead."""
    stores.sessions.put_records(tenant.app_id, [_record(index) for index in range(IMPORT_SIZE)])
    page = stores.sessions.find(tenant.app_id, CallQuery(), PageRequest(1, 3))
    assert page.total == IMPORT_SIZE
    assert page.calls.count == 3 and page.calls.joined.count(b"bulk-") == 3
    newest = stores.sessions.get(tenant.app_id, f"bulk-{IMPORT_SIZE - 1:06d}")
    assert newest is not None and b'"initiatedAt":1700099999' in newest.summary


def test_a_phone_call_stays_in_its_channel_through_the_engine(stores: Stores, tenant: Tenant) -> None:
    first = stores.voice.create_channel(tenant.app_id, new_channel_settings("One")).channel_id
    second = stores.voice.create_channel(tenant.app_id, new_channel_settings("Two")).channel_id
    call_id = str(uuid.uuid4())
    record = {
        "from": "+31000000001",
        "to": "+31000000002",
        "originator": {"number": {"type": "pstn", "number": "+31000000001"}},
        "direction": "incoming",
        "status": "completed",
        "type": "pstn",
        "createdAt": "2026-01-01T00:00:00.000Z",
        "updatedAt": "2026-01-01T00:00:05.000Z",
    }
    stores.voice.put_records(tenant.app_id, first, [validate_voice_record(record, call_id=call_id, channel_id=first)])
    with pytest.raises(Conflict):
        stores.voice.put_records(
            tenant.app_id, second, [validate_voice_record(record, call_id=call_id, channel_id=second)]
        )
    assert stores.voice.get(tenant.app_id, first, call_id) is not None
    assert stores.voice.get(tenant.app_id, second, call_id) is None
