"""``bench/ingest_anchor.py``'s *writes* side: the recorded writes, replayed alone, store what ingest stored
(else its floor would measure less work than ingest does)."""

from __future__ import annotations

import importlib.util
import sqlite3
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).parents[2] / "bench"
#: Rows made when a file and its app are created (ids, times, secrets), not by ingest.
MADE_AT_CREATION = {"apps", "calltrail_migrations", "calltrail_secrets"}


def bench_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def table_rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    raw = sqlite3.connect(path)
    try:
        tables = [name for (name,) in raw.execute("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY 1")]
        return {
            table: sorted(raw.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
            for table in tables
            if table not in MADE_AT_CREATION and not table.startswith("sqlite_")
        }
    finally:
        raw.close()


def test_replayed_writes_store_the_same_rows_as_the_ingest_they_were_recorded_from(tmp_path: Path) -> None:
    bench = bench_script("ingest_anchor")
    batches = bench.demo_batches(200, 250, 1)
    ingested, replayed = tmp_path / "ingested.db", tmp_path / "replayed.db"
    transactions = bench.record_writes(f"sqlite:///{ingested}", batches)
    assert len(transactions) > len(batches)  # each batch's, then the settle's
    bench.run_writes(f"sqlite:///{replayed}", transactions)
    stored, again = table_rows(ingested), table_rows(replayed)
    assert len(stored["call_events"]) == sum(map(len, batches))
    assert len(stored["calls"]) == 200 and stored["usage_member_rollups"]
    assert again == stored
