"""PostgreSQL connections whose statements can be given a deadline: what lets a quick read run on
the event loop (see :meth:`calltrail.store.database.Database.reading_here`).

A read on the event loop holds up every other request until it returns, so it must never wait
for long: not for a pooled connection (the pool lends one only if one is free at once), and not
for an answer (each statement of the read shares one deadline). psycopg waits for the server in
:meth:`psycopg.Connection.wait`, which takes a timeout (since psycopg 3.3.6, hence the pin in
``pyproject.toml``); this class passes it the time left.

Past the deadline the connection is mid-statement, in no state to be lent again: it is closed
(the pool replaces it) and :class:`WouldWait` raised, so the caller runs the read again where
waiting is harmless, on a worker thread.

Imported only with PostgreSQL in use (psycopg loads on demand).
"""

from __future__ import annotations

import time
from typing import Any, TypeVar

import psycopg
from psycopg import errors

from calltrail.store.database.base import WouldWait

RV = TypeVar("RV")


class DeadlineConnection(psycopg.Connection[Any]):
    """A psycopg connection whose waits for the server end at :attr:`deadline` (a
    ``time.monotonic()`` instant) while one is set; with none set it waits as psycopg does."""

    deadline: float | None = None

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        deadline = self.deadline
        if deadline is None or timeout is not None:
            return super().wait(gen, interval, timeout)
        try:
            return super().wait(gen, interval, max(0.0, deadline - time.monotonic()))
        except errors._WaitTimeout:  # psycopg's own, raised by its wait functions
            self.pgconn.finish()  # mid-statement: never lent again (the pool drops closed connections)
            raise WouldWait("a statement outlived its deadline") from None
