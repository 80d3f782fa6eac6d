"""How fresh each table is, judged by the data: how long its oldest unloaded message waits.

A table is fresh while every message older than the window is loaded. An idle pipeline that
is caught up stays fresh however long ago its last run was, and a run that loaded nothing
makes nothing look fresh. Measured from the lag (core/kafka/lag.py) and the broker's time index.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import Enum

from confluent_kafka import Consumer

from superhero_assets.core import contract
from superhero_assets.core.kafka.lag import PartitionLag, oldest_age_s, stale_partitions


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
        out[table] = TableFreshness(
            tf.table, tf.state, tf.unloaded, tf.late, tf.stale, max(mine, default=None)
        )
    return out
