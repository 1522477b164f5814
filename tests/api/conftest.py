"""Fixtures shared by the API tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import anyio.to_thread
import pytest

from calltrail.api.http import WorkerThreads


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Counts the trips to the worker threads (``trips[0]``; reset it between requests): ours
    (:class:`calltrail.api.http.WorkerThreads`) and any through anyio's (Starlette's own)."""
    counted = [0]
    real = anyio.to_thread.run_sync
    real_call = WorkerThreads.call

    async def counting(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        counted[0] += 1
        return await real(function, *args, **kwargs)

    async def counting_call(self: WorkerThreads, function: Callable[[], Any], **options: Any) -> Any:
        counted[0] += 1  # a point read run on the event loop counts too: one blocking call
        return await real_call(self, function, **options)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    monkeypatch.setattr(WorkerThreads, "call", counting_call)
    yield counted
