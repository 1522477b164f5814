"""Loops that run beside ``calltrail serve``'s requests for as long as a block lasts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import anyio


@asynccontextmanager
async def in_background(loop: Callable[..., Coroutine[Any, Any, None]], *args: Any) -> AsyncIterator[None]:
    """Run ``loop(*args)`` in the background for the duration of the block; stop it cleanly (it is
    cancelled at its next wait)."""
    async with anyio.create_task_group() as group:
        group.start_soon(loop, *args)
        try:
            yield
        finally:
            group.cancel_scope.cancel()
