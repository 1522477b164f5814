"""SQL text both engines share: a key's hash, the same in Python and in SQL."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest

from calltrail.store.database import key_hash, key_hash_sql, open_database


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_key_hash_is_the_same_in_python_and_in_sql(backend: str, database_url: Callable[[str], str]) -> None:
    """The migration fills ``session_hash`` in SQL; the writers and readers compute it in Python."""
    keys = ["", "a", "v1.us.31780434a95d45.16923681138d75114d60d1345a22e4cc612263fb26c0b5cf92", "é-ü 😀", "x" * 300]
    db = open_database(database_url(backend))
    try:
        with db.read() as conn:
            hashed = [conn.fetchone(f"SELECT {key_hash_sql(db.dialect, 'CAST(? AS TEXT)')}", (key,)) for key in keys]
    finally:
        db.close()
    assert hashed == [(key_hash(key),) for key in keys]
    assert len({key_hash(key) for key in keys}) == len(keys)
    assert min(map(key_hash, keys)) < 0 < max(map(key_hash, keys))  # signed, as both engines store it


def test_a_key_hash_is_the_first_8_bytes_of_the_md5_signed() -> None:
    """As ``m0024`` defines it, for keys asked once and again (the function is memoized)."""
    keys = [f"v1.us.app.{n:x}" * (n % 4 + 1) for n in range(5000)]
    for key in keys + keys[::-1]:
        expected = int.from_bytes(hashlib.md5(key.encode()).digest()[:8], "big", signed=True)
        assert key_hash(key) == expected
