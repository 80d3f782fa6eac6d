"""How fresh the tables are: by the messages waiting in Kafka, and by the messages loaded.

- Waiting (the `fresh` checks, the lag sensor): a table is fresh while every message older
  than the window is loaded, from the lag (core/kafka/lag.py) and the broker's time index. A
  caught-up idle pipeline stays fresh, and a run that loaded nothing makes nothing look fresh.
- Loaded (`superhero freshness`): the newest loaded message, and produce-to-Parquet delays
  (its run's `etl_meta.timestamp_end` minus its Kafka `buffer_meta.timestamp`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import Enum

import polars as pl
import pyarrow.parquet as pq
from confluent_kafka import Consumer

from superhero_assets.core import contract
from superhero_assets.core.kafka.lag import PartitionLag, oldest_age_s, stale_partitions
from superhero_assets.core.run import manifest
from superhero_assets.core.run.plan import Chunk
from superhero_assets.core.store.output_store import OutputStore
from superhero_assets.core.store.scan import scan


class Freshness(Enum):
    FRESH = "fresh"  # nothing waits longer than the warning window
    LATE = "late"  # something waits longer than the warning window
    STALE = "stale"  # something waits longer than the failure window


@dataclass(frozen=True)
class FreshnessWindow:
    """How long an unloaded message may wait: a warning after warn_s, a failure after fail_s."""

    warn_s: float
    fail_s: float


@dataclass(frozen=True)
class TableFreshness:
    table: str
    state: Freshness
    unloaded: int  # messages of the table's topics not loaded yet
    late: tuple[str, ...]  # partitions whose oldest unloaded message is past warn_s
    stale: tuple[str, ...]  # ... past fail_s
    oldest_age_s: float | None = None  # filled in by with_oldest_age, when reported

    def describe(self, window: FreshnessWindow) -> str:
        if self.state is Freshness.STALE:
            return f"messages wait longer than {window.fail_s:.0f}s in {', '.join(self.stale)}"
        if self.state is Freshness.LATE:
            return f"messages wait longer than {window.warn_s:.0f}s in {', '.join(self.late)}"
        if self.unloaded:
            return f"{self.unloaded} messages wait, none longer than {window.warn_s:.0f}s"
        return "caught up: every message is loaded"


def measure(
    consumer: Consumer,
    lags: list[PartitionLag],
    window: FreshnessWindow,
    tables: tuple[str, ...] = tuple(contract.TABLES),
    now_s: float | None = None,
) -> dict[str, TableFreshness]:
    """{table: its freshness}, from lags measured by lag.measure (two time-index lookups)."""
    now_s = time.time() if now_s is None else now_s
    late = {p.name for p in stale_partitions(consumer, lags, window.warn_s, now_s)}
    stale = {p.name for p in stale_partitions(consumer, lags, window.fail_s, now_s)} & late
    loaded = tuple(dict.fromkeys(p.topic for p in lags))
    result = {}
    for table in tables:
        topics = contract.table_topics(table, loaded)
        mine = [p for p in lags if p.topic in topics]
        names = {p.name for p in mine}
        state = Freshness.FRESH
        if names & stale:
            state = Freshness.STALE
        elif names & late:
            state = Freshness.LATE
        result[table] = TableFreshness(
            table,
            state,
            unloaded=sum(p.lag for p in mine),
            late=tuple(sorted(names & late)),
            stale=tuple(sorted(names & stale)),
        )
    return result


def with_oldest_age(
    consumer: Consumer, lags: list[PartitionLag], found: dict[str, TableFreshness]
) -> dict[str, TableFreshness]:
    """The same, with the age of each table's oldest unloaded message (one read per lagging
    partition): for a report, not for every sensor tick."""
    loaded = tuple(dict.fromkeys(p.topic for p in lags))
    wanted = {t for table in found for t in contract.table_topics(table, loaded)}
    waiting = [p for p in lags if p.lag > 0 and p.error is None and p.topic in wanted]
    ages = {p.name: oldest_age_s(consumer, p, timeout_s=5.0) for p in waiting}
    out = {}
    for table, tf in found.items():
        topics = contract.table_topics(table, loaded)
        mine = [a for p in waiting if p.topic in topics and (a := ages[p.name]) is not None]
        out[table] = replace(tf, oldest_age_s=max(mine, default=None))
    return out


def newest_loaded(store: OutputStore) -> datetime | None:
    """The Kafka timestamp of the newest message in buffer_meta, from Parquet statistics:
    each file's footer, never its data."""
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
    """Percentiles of produce-to-Parquet delay, in seconds, over the newest runs' messages:
    one lazy scan of two columns, joined to the runs' end times."""
    entries = [e for e in manifest.run_entries(store)[-last_runs:] if e and e.get("chunks")]
    files = [Chunk(**c).relpath("buffer_meta") for e in entries for c in e["chunks"]]
    files = [f for f in files if store.exists(f)]
    runs = [r for e in entries if store.exists(r := f"etl_meta/{e['etl_id']}.parquet")]
    if not files or not runs:
        return {}
    msgs = scan(store, files).select("etl_id", "timestamp")
    ends = scan(store, runs).select("etl_id", "timestamp_end")
    ms = pl.col("timestamp_end").dt.epoch("ms") - pl.col("timestamp").dt.epoch("ms")
    d = pl.col("d")
    count, p50, p95, worst = (
        msgs.join(ends, on="etl_id")
        .select(d=ms)
        .select(
            pl.len(), p50=d.quantile(0.5, "linear"), p95=d.quantile(0.95, "linear"), top=d.max()
        )
        .collect(engine="streaming")
        .row(0)
    )
    if not count:
        return {}
    return {"messages": count, "p50_s": p50 / 1000, "p95_s": p95 / 1000, "max_s": worst / 1000}
