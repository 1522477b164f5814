"""Telephony storage on SQLite and PostgreSQL: channels, ingestion, import, and keyset pages
checked against a brute-force filter of the same data."""

from __future__ import annotations

import random
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import orjson
import pytest

from calltrail.kernel.cursors import Cursor
from calltrail.kernel.errors import ChannelNotFound, Conflict, InvalidRequest, NotFound
from calltrail.kernel.instants import parse_rfc3339
from calltrail.kernel.tenancy import new_app_settings
from calltrail.store import Stores, open_stores
from calltrail.voice.demo import generate_calls
from calltrail.voice.events import parse_batch
from calltrail.voice.query import ChannelCallQuery
from calltrail.voice.record import validate_record
from calltrail.voice.vocabulary import new_channel_settings
from tests.store.statements import spy_statements
from tests.voice.spec004 import events_for, example

CALL = "4fc2edf7-68f5-437a-89eb-3ce0095409d6"


def new_app(stores: Stores) -> str:
    return stores.tenants.create_app(new_app_settings("Telephony", f"t-{secrets.token_hex(6)}")).app_id


def new_channel(stores: Stores, app_id: str) -> str:
    return stores.voice.create_channel(app_id, new_channel_settings("Line")).channel_id


def ev(status: str, at: str, event_id: str, call: str = CALL, **fields: Any) -> dict[str, Any]:
    return {"id": event_id, "callId": call, "status": status, "at": at, **fields}


IDENTITY = {"direction": "incoming", "type": "pstn", "from": "+351910648518", "to": "+3197058016589"}


def get(stores: Stores, app_id: str, channel: str, call: str = CALL) -> dict[str, Any] | None:
    body = stores.voice.get(app_id, channel, call)
    return orjson.loads(body) if body else None


# -- channels ------------------------------------------------------------------------------------


def test_channels_are_created_and_found_case_insensitively(stores: Stores) -> None:
    app_id = new_app(stores)
    chosen = str(uuid.uuid4())
    channel = stores.voice.create_channel(app_id, new_channel_settings("Sales line", chosen.upper()))
    assert (channel.app_id, channel.channel_id, channel.name) == (app_id, chosen, "Sales line")
    assert stores.voice.get_channel(app_id, chosen.upper()) == channel
    random_one = stores.voice.create_channel(app_id, new_channel_settings("Support"))
    assert uuid.UUID(random_one.channel_id).version == 4
    assert stores.voice.get_channel(app_id, "not-a-uuid") is None
    assert stores.voice.get_channel(new_app(stores), chosen) is None  # another app cannot see it


def test_channel_creation_errors(stores: Stores) -> None:
    app_id = new_app(stores)
    chosen = str(uuid.uuid4())
    stores.voice.create_channel(app_id, new_channel_settings("A", chosen))
    with pytest.raises(Conflict):
        stores.voice.create_channel(app_id, new_channel_settings("B", chosen))
    stores.voice.create_channel(new_app(stores), new_channel_settings("Same id, other app", chosen))
    with pytest.raises(InvalidRequest):
        stores.voice.create_channel(app_id, new_channel_settings("C", "line-1"))
    with pytest.raises(InvalidRequest):
        stores.voice.create_channel(app_id, new_channel_settings("  "))
    with pytest.raises(NotFound):
        stores.voice.create_channel("no-such-app", new_channel_settings("D"))


def test_page_secret_is_shared_by_every_process_on_the_database(stores: Stores) -> None:
    secret = stores.voice.page_secret()
    assert len(secret) == 32
    assert Stores(stores.db).voice.page_secret() == secret


def test_page_secret_differs_between_databases(tmp_path: Any) -> None:
    first = open_stores(f"sqlite:///{tmp_path / 'a.db'}")
    second = open_stores(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        assert first.voice.page_secret() != second.voice.page_secret()
    finally:
        first.close()
        second.close()


# -- ingestion -----------------------------------------------------------------------------------


def test_ingest_is_idempotent_and_folds_across_batches(stores: Stores) -> None:
    app_id = new_app(stores)
    channel = new_channel(stores, app_id)
    first = parse_batch([ev("ringing", "2024-03-01T16:00:01Z", "e1", **IDENTITY)], channel)
    result = stores.voice.ingest(app_id, channel, first)
    assert (result.accepted, result.duplicates) == (1, 0)
    assert get(stores, app_id, channel)["status"] == "ringing"  # type: ignore[index]
    later = parse_batch(
        [
            ev("completed", "2024-03-01T16:00:09Z", "e3"),
            ev("ongoing", "2024-03-01T16:00:03Z", "e2"),
            ev("ongoing", "2024-03-01T16:00:03Z", "e2"),
        ],
        channel,
    )
    result = stores.voice.ingest(app_id, channel, later)
    assert (result.accepted, result.duplicates) == (2, 1)
    record = get(stores, app_id, channel)
    assert record is not None
    assert (record["status"], record["duration"], record["createdAt"]) == ("completed", 6, "2024-03-01T16:00:01Z")
    again = stores.voice.ingest(app_id, channel, [*first, *later])
    assert (again.accepted, again.duplicates) == (0, 4)
    assert get(stores, app_id, channel) == record
    assert [e.id for e in stores.voice.events_of(app_id, CALL)] == ["e1", "e2", "e3"]


def test_arrival_order_across_batches_does_not_change_the_record(stores: Stores) -> None:
    spec = example("example2")["results"][2]
    raw = events_for(spec)
    bodies = []
    for order in (raw, raw[::-1], raw[2:] + raw[:2]):
        app_id = new_app(stores)
        channel = stores.voice.create_channel(app_id, new_channel_settings("Line", spec["channelId"])).channel_id
        for event in order:  # one event per transaction: the worst case for re-folding
            stores.voice.ingest(app_id, channel, parse_batch(event, channel))
        bodies.append(stores.voice.get(app_id, channel, spec["id"]))
    assert orjson.loads(bodies[0]) == spec  # type: ignore[arg-type]
    assert bodies[0] == bodies[1] == bodies[2]


def test_a_call_stays_in_its_channel(stores: Stores) -> None:
    app_id = new_app(stores)
    channel, other = new_channel(stores, app_id), new_channel(stores, app_id)
    stores.voice.ingest(app_id, channel, parse_batch(ev("ringing", "2024-03-01T16:00:01Z", "e1"), channel))
    foreign = parse_batch(
        [
            ev("ringing", "2024-03-01T16:00:01Z", "x0", call=str(uuid.uuid4()), **IDENTITY),
            ev("completed", "2024-03-01T16:00:09Z", "x1"),
        ],
        other,
    )
    with pytest.raises(Conflict) as caught:
        stores.voice.ingest(app_id, other, foreign)
    assert caught.value.details == {"events[1].callId": ["belongs to another channel of this workspace"]}
    assert [e.id for e in stores.voice.events_of(app_id, foreign[0].call_id)] == []  # all or nothing
    record = validate_record(
        example("example1")["results"][0] | {"id": CALL, "channelId": other}, call_id=CALL, channel_id=other
    )
    with pytest.raises(Conflict):
        stores.voice.put_records(app_id, other, [record])


def test_unknown_channels_are_not_found(stores: Stores) -> None:
    app_id = new_app(stores)
    missing = str(uuid.uuid4())
    with pytest.raises(ChannelNotFound):
        stores.voice.ingest(app_id, missing, parse_batch(ev("ringing", "2024-03-01T16:00:01Z", "e1"), missing))
    with pytest.raises(ChannelNotFound):
        stores.voice.get(app_id, missing, CALL)
    with pytest.raises(ChannelNotFound):
        stores.voice.find(app_id, ChannelCallQuery(scope=missing), None, 10)
    with pytest.raises(ChannelNotFound):
        stores.voice.put_records(app_id, missing, [])


def test_a_page_or_a_call_is_read_with_its_channel_check_in_one_statement(
    stores: Stores, monkeypatch: pytest.MonkeyPatch
) -> None:
    app_id = new_app(stores)
    channel = new_channel(stores, app_id)
    stores.voice.ingest(
        app_id, channel, parse_batch([ev("ringing", "2024-03-01T16:00:01Z", "e1", **IDENTITY)], channel)
    )
    executed = spy_statements(stores.db, monkeypatch)
    assert len(stores.voice.find(app_id, ChannelCallQuery(scope=channel), None, 10).items) == 1
    assert get(stores, app_id, channel) is not None
    assert len(executed) == 2, executed
    # Nothing found: the check alone then tells an empty page from an unknown channel.
    assert stores.voice.find(app_id, ChannelCallQuery(scope=channel, tags=("none",)), None, 10).items == []
    assert get(stores, app_id, channel, str(uuid.uuid4())) is None
    assert len(executed) == 6, executed
    with pytest.raises(ChannelNotFound):
        stores.voice.find(app_id, ChannelCallQuery(scope=str(uuid.uuid4())), None, 10)


def test_imported_records_are_served_as_sent_and_later_events_do_not_change_them(stores: Stores) -> None:
    app_id = new_app(stores)
    spec = example("example1")["results"][1]
    channel = stores.voice.create_channel(app_id, new_channel_settings("Line", spec["channelId"])).channel_id
    stores.voice.ingest(app_id, channel, parse_batch(events_for(spec)[:2], channel))
    record = validate_record(spec, call_id=spec["id"], channel_id=channel)
    stores.voice.put_records(app_id, channel, [record])
    assert stores.voice.get(app_id, channel, spec["id"]) == orjson.dumps(spec)
    stores.voice.ingest(app_id, channel, parse_batch(events_for(spec)[2:], channel))
    assert stores.voice.get(app_id, channel, spec["id"]) == orjson.dumps(spec)


def test_tags_are_reindexed_when_a_call_is_refolded(stores: Stores) -> None:
    app_id = new_app(stores)
    channel = new_channel(stores, app_id)
    stores.voice.ingest(
        app_id, channel, parse_batch(ev("ringing", "2024-03-01T16:00:01Z", "e1", tags=["Old"], **IDENTITY), channel)
    )

    def tagged(tag: str) -> int:
        return len(stores.voice.find(app_id, ChannelCallQuery(scope=channel, tags=(tag,)), None, 10).items)

    assert (tagged("old"), tagged("new")) == (1, 0)
    stores.voice.ingest(
        app_id, channel, parse_batch(ev("completed", "2024-03-01T16:00:09Z", "e2", tags=["NEW"]), channel)
    )
    assert (tagged("old"), tagged("new")) == (0, 1)


# -- keyset pages against brute force ------------------------------------------------------------


@dataclass
class Dataset:
    app_id: str
    channels: list[str]
    records: list[dict[str, Any]]


@pytest.fixture(scope="module")
def dataset(stores: Stores) -> Iterator[Dataset]:
    """Two channels of demo calls (all statuses, tags, legs), plus a third, empty channel."""
    app_id = new_app(stores)
    channels = [new_channel(stores, app_id) for _ in range(3)]
    for channel, count, seed in ((channels[0], 260, 1), (channels[1], 140, 2)):
        events = [e for call in generate_calls(channel, count=count, seed=seed) for e in parse_batch(call, channel)]
        stores.voice.ingest(app_id, channel, events)
    # Calls sharing one createdAt: the id must break the tie, in the same order on both databases.
    twins = [str(uuid.UUID(int=random.Random(n).getrandbits(128), version=4)) for n in range(6)]
    same = [
        ev("completed", "2026-06-01T12:00:00.5Z", f"twin-{n}", call=call, **IDENTITY, duration=n % 2)
        for n, call in enumerate(twins)
    ]
    stores.voice.ingest(app_id, channels[0], parse_batch(same, channels[0]))
    records = []
    for channel in channels:
        page = stores.voice.find(app_id, ChannelCallQuery(scope=channel), None, 1000)
        records += [orjson.loads(item) for item in page.items]
    # A call of another app never shows up in this app's lists.
    other = new_app(stores)
    other_channel = stores.voice.create_channel(other, new_channel_settings("Line", channels[0])).channel_id
    stores.voice.ingest(
        other,
        other_channel,
        parse_batch(ev("ringing", "2026-06-01T12:00:00Z", "o1", call=str(uuid.uuid4()), **IDENTITY), other_channel),
    )
    yield Dataset(app_id, channels, records)


def matches(record: dict[str, Any], query: ChannelCallQuery) -> bool:
    created = parse_rfc3339(record["createdAt"])
    checks = [
        query.scope is None or record["channelId"] == query.scope,
        not query.channels or record["channelId"] in query.channels,
        not query.statuses or record["status"] in query.statuses,
        not query.types or record["type"] in query.types,
        not query.directions or record["direction"] in query.directions,
        query.call_to is None or record["to"] == query.call_to,
        query.call_from is None or record["from"] == query.call_from,
        query.duration is None or record.get("duration") == query.duration,
        query.call_id is None or record["id"] == query.call_id,
        not query.tags or bool(set(query.tags) & set(record.get("tags", []))),
        query.start_ms is None or created >= query.start_ms,
        query.end_ms is None or created < query.end_ms,
    ]
    return all(checks)


def expected(data: Dataset, query: ChannelCallQuery) -> list[str]:
    found = [r for r in data.records if matches(r, query)]
    found.sort(key=lambda r: (parse_rfc3339(r["createdAt"]), r["id"]), reverse=True)
    return [r["id"] for r in found]


def walk(stores: Stores, app_id: str, query: ChannelCallQuery, limit: int) -> list[str]:
    seen: list[str] = []
    after: Cursor | None = None
    while True:
        page = stores.voice.find(app_id, query, after, limit)
        seen += [orjson.loads(item)["id"] for item in page.items]
        assert len(page.items) <= limit
        if page.next_after is None:
            return seen
        assert len(page.items) == limit
        after = page.next_after


def random_query(rng: random.Random, data: Dataset) -> ChannelCallQuery:
    sample = rng.choice(data.records)
    pick = rng.random
    times = sorted(parse_rfc3339(r["createdAt"]) for r in rng.sample(data.records, 2))
    query = ChannelCallQuery(scope=rng.choice([*data.channels[:2], None]))
    if query.scope is None and pick() < 0.5:
        query = replace(query, channels=tuple(rng.sample(data.channels, rng.randint(1, 3))))
    options: dict[str, Callable[[], Any]] = {
        "statuses": lambda: tuple(
            rng.sample(["completed", "no-answer", "busy", "failed", "cancelled", "ongoing"], rng.randint(1, 3))
        ),
        "types": lambda: tuple(rng.sample(["pstn", "sip", "webrtc"], rng.randint(1, 2))),
        "directions": lambda: (rng.choice(["incoming", "outgoing"]),),
        "call_to": lambda: sample["to"],
        "call_from": lambda: sample["from"],
        "duration": lambda: sample.get("duration", 0),
        "call_id": lambda: sample["id"],
        "tags": lambda: tuple(
            rng.sample(["sales", "support", "vip", "follow-up", "billing", "nope"], rng.randint(1, 3))
        ),
        "start_ms": lambda: times[0],
        "end_ms": lambda: times[1] + 1,
    }
    chosen = rng.sample(sorted(options), rng.choice([0, 1, 1, 2, 2, 3]))
    return replace(query, **{name: options[name]() for name in chosen})


def test_pages_equal_brute_force_for_random_filter_combinations(stores: Stores, dataset: Dataset) -> None:
    rng = random.Random(2024)
    nonempty = 0
    for _ in range(120):
        query = random_query(rng, dataset)
        want = expected(dataset, query)
        nonempty += bool(want)
        for limit in (1, 7, 1000):
            assert walk(stores, dataset.app_id, query, limit) == want, (query, limit)
    assert nonempty > 60  # the queries mostly select something: the comparison is not vacuous


@pytest.mark.parametrize("limit", [1, 2, 5])
def test_ties_on_created_at_are_ordered_by_id_descending(stores: Stores, dataset: Dataset, limit: int) -> None:
    query = ChannelCallQuery(
        scope=dataset.channels[0],
        start_ms=parse_rfc3339("2026-06-01T12:00:00.5Z"),
        end_ms=parse_rfc3339("2026-06-01T12:00:00.501Z"),
    )
    ids = walk(stores, dataset.app_id, query, limit)
    assert len(ids) == 6 and ids == sorted(ids, reverse=True)


def test_many_channels_and_values_fall_back_to_row_checks(stores: Stores, dataset: Dataset) -> None:
    query = ChannelCallQuery(
        channels=tuple(dataset.channels) + tuple(str(uuid.uuid4()) for _ in range(20)),
        statuses=("completed", "no-answer", "busy"),
    )
    assert walk(stores, dataset.app_id, query, 13) == expected(dataset, query)


def test_the_empty_channel_and_other_apps(stores: Stores, dataset: Dataset) -> None:
    page = stores.voice.find(dataset.app_id, ChannelCallQuery(scope=dataset.channels[2]), None, 10)
    assert (page.items, page.next_after) == ([], None)
    everything = walk(stores, dataset.app_id, ChannelCallQuery(), 1000)
    assert sorted(everything) == sorted(r["id"] for r in dataset.records)
