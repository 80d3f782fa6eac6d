"""`superhero freshness` from the tables alone: the newest loaded message, and the delays."""

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from superhero_assets.core import contract
from superhero_assets.core.quality.freshness import delays, newest_loaded
from superhero_assets.core.run import manifest
from superhero_assets.core.run.plan import Chunk
from superhero_assets.core.store.output_store import OutputStore


def load(store: OutputStore, seq: int, etl_id: str, first: int, produced_ms: list[int], end_ms):
    """One run: its buffer_meta chunk (messages produced at these times), etl_meta, manifest."""
    n = len(produced_ms)
    chunk = Chunk("lib.server.game", 0, first, first + n - 1)
    columns = {f.name: pa.nulls(n, f.type) for f in contract.BUFFER_META}
    columns["etl_id"] = pa.array([etl_id] * n)
    columns["timestamp"] = pa.array(produced_ms, contract.TS_MS)
    store.write_parquet(chunk.relpath("buffer_meta"), pa.table(columns, contract.BUFFER_META))
    run = {f.name: pa.nulls(1, f.type) for f in contract.ETL_META}
    run["etl_id"] = pa.array([etl_id])
    run["timestamp_end"] = pa.array([end_ms], contract.TS_MS)
    store.write_parquet(f"etl_meta/{etl_id}.parquet", pa.table(run, contract.ETL_META))
    entry = {"etl_id": etl_id, "chunks": [chunk.__dict__]}
    store.write_json(manifest.run_entry_path(seq, etl_id), entry)


def test_delays_are_each_runs_end_minus_each_messages_production(tmp_path):
    store = OutputStore(str(tmp_path))
    assert delays(store) == {} and newest_loaded(store) is None
    load(store, 1, "e1", 0, [0, 1000, 2000], end_ms=10_000)  # 10, 9 and 8 s
    load(store, 2, "e2", 3, [5000], end_ms=20_000)  # 15 s
    # Linear interpolation between the sorted delays 8, 9, 10, 15 (DuckDB's quantile_cont).
    found = delays(store)
    assert found == {"messages": 4, "p50_s": 9.5, "p95_s": pytest.approx(14.25), "max_s": 15.0}
    assert delays(store, last_runs=1) == {
        "messages": 1,
        "p50_s": 15.0,
        "p95_s": 15.0,
        "max_s": 15.0,
    }
    assert newest_loaded(store) == datetime(1970, 1, 1, 0, 0, 5, tzinfo=UTC)
