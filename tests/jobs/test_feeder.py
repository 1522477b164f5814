"""Feeding demo calls through validation and ingestion, with writes overlapping generation."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator

import pytest

from calltrail.jobs.feeder import InvalidDemoEvent, feed, feed_demo
from calltrail.kernel.errors import ChannelNotFound
from calltrail.kernel.tenancy import new_app_settings
from calltrail.store import Stores
from calltrail.store.usage_backlog import TIDY_EVERY
from calltrail.voice import demo
from calltrail.voice.demo import generate_calls
from calltrail.voice.query import ChannelCallQuery
from calltrail.voice.vocabulary import new_channel_settings


def test_feed_stores_every_call_and_counts_events(stores: Stores) -> None:
    app_id = stores.tenants.create_app(new_app_settings("Feed", f"t-{secrets.token_hex(6)}")).app_id
    channel = stores.voice.create_channel(app_id, new_channel_settings("Line")).channel_id
    ticks: list[int] = []
    sent = feed_demo(stores.voice, app_id, channel, 120, seed=3, on_call=lambda: ticks.append(1), batch_events=50)
    assert sent == sum(len(call) for call in generate_calls(channel, count=120, seed=3))
    assert len(ticks) == 120
    assert len(stores.voice.find(app_id, ChannelCallQuery(scope=channel), None, 1000).items) == 120


def test_a_storage_error_in_the_writer_reaches_the_caller(stores: Stores) -> None:
    app_id = stores.tenants.create_app(new_app_settings("Feed", f"t-{secrets.token_hex(6)}")).app_id
    with pytest.raises(ChannelNotFound):
        feed_demo(stores.voice, app_id, str(uuid.uuid4()), 200, seed=1, batch_events=50)


def test_an_invalid_generated_event_stops_the_feed(stores: Stores, monkeypatch: pytest.MonkeyPatch) -> None:
    app_id = stores.tenants.create_app(new_app_settings("Feed", f"t-{secrets.token_hex(6)}")).app_id
    channel = stores.voice.create_channel(app_id, new_channel_settings("Line")).channel_id

    def broken(channel_id: str, **_: object) -> Iterator[list[dict[str, str]]]:
        yield [{"id": "x", "callId": "not-a-uuid", "status": "ringing", "at": "2024-01-01T00:00:00Z"}]

    monkeypatch.setattr("calltrail.jobs.feeder.generate_calls", broken)
    with pytest.raises(InvalidDemoEvent):
        feed_demo(stores.voice, app_id, channel, 1, seed=1)
    assert demo.generate_calls is generate_calls  # only the feed's reference was replaced


def test_the_feed_tidies_between_every_few_batches() -> None:
    """``tidy`` runs after every ``TIDY_EVERY`` batches, on the writer, between two batches."""
    done: list[str] = []
    calls = [[{"n": n}] for n in range(2 * TIDY_EVERY + 2)]
    sent = feed(calls, lambda raw, _problems: raw, lambda batch: done.append(f"batch {batch[0]['n']}"),
                batch_events=1, tidy=lambda: done.append("tidy"))  # fmt: skip
    assert sent == len(calls)
    batches = [f"batch {n}" for n in range(len(calls))]
    tidied_after = [done[index - 1] for index, step in enumerate(done) if step == "tidy"]
    assert [step for step in done if step != "tidy"] == batches
    assert tidied_after == [f"batch {TIDY_EVERY - 1}", f"batch {2 * TIDY_EVERY - 1}"]
