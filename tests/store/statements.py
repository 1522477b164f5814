"""A spy on the statements a store runs: what a test counts to hold a read to its round trips."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from calltrail.store.database import Connection, Database, PostgresConnection, SQLiteConnection


def spy_statements(db: Database, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The SQL of every statement ``db``'s connections run from now on, in order."""
    executed: list[str] = []
    connection = PostgresConnection if db.dialect == "postgresql" else SQLiteConnection
    real = connection.execute

    def execute(self: Connection, sql: str, params: Sequence[Any] = ()) -> Any:
        executed.append(sql)
        return real(self, sql, params)  # type: ignore[arg-type]

    monkeypatch.setattr(connection, "execute", execute)
    return executed
