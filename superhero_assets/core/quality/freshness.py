"""How fresh the tables are: the newest loaded message, and produce-to-Parquet delays.

A message's delay is its run's `etl_meta.timestamp_end` (when its files were durable) minus
its Kafka timestamp (`buffer_meta.timestamp`, set when it was produced), so the figures come
from the tables themselves.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow.parquet as pq

from superhero_assets.core.quality.table_checks import query, read_tables
from superhero_assets.core.run import manifest
from superhero_assets.core.run.plan import Chunk
from superhero_assets.core.store.output_store import OutputStore


def newest_loaded(store: OutputStore) -> datetime | None:
    """The Kafka timestamp of the newest message in buffer_meta, from Parquet statistics."""
    newest = None
    for relpath in store.list("buffer_meta", ".parquet"):
        with store.fs.open(store.path(relpath), "rb") as fh:
            meta = pq.ParquetFile(fh).metadata
        col = meta.schema.names.index("timestamp")
        for i in range(meta.num_row_groups):
            stats = meta.row_group(i).column(col).statistics
            if stats is not None and stats.has_min_max and (newest is None or stats.max > newest):
                newest = stats.max
    return newest.replace(tzinfo=UTC) if newest is not None else None


def delays(store: OutputStore, last_runs: int = 50) -> dict[str, float]:
    """Percentiles of produce-to-Parquet delay, in seconds, over the newest runs' messages."""
    entries = [e for e in manifest.run_entries(store)[-last_runs:] if e and e.get("chunks")]
    files = [Chunk(**c).relpath("buffer_meta") for e in entries for c in e["chunks"]]
    files = [f for f in files if store.exists(f)]
    runs = [f"etl_meta/{e['etl_id']}.parquet" for e in entries]
    if not files:
        return {}
    msgs = read_tables(store, files, ["etl_id", "timestamp"])
    ends = read_tables(store, [r for r in runs if store.exists(r)], ["etl_id", "timestamp_end"])
    (row,) = query(
        """SELECT count(*), quantile_cont(d, 0.5), quantile_cont(d, 0.95), max(d)
           FROM (SELECT date_diff('millisecond', m."timestamp", e.timestamp_end) AS d
                 FROM msgs m JOIN ends e USING (etl_id))""",
        msgs=msgs,
        ends=ends,
    )
    count, p50, p95, worst = row
    return {"messages": count, "p50_s": p50 / 1000, "p95_s": p95 / 1000, "max_s": worst / 1000}
