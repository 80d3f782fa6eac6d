"""Consumer lag, although the offsets live in Redis: committed offsets vs the high watermarks.

The committed offsets are read first and the watermarks second, so a message committed in
between can only make the lag look larger, never negative. Nothing here commits an offset.
Whether a partition waits too long comes from the broker's time index (`offsets_for_times`);
only oldest_age_s, for the figure itself, reads a message: the first unloaded one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis
from confluent_kafka import Consumer, TopicPartition

from superhero_assets.core.kafka.consume import watermarks
from superhero_assets.core.run import manifest, state
from superhero_assets.core.run.plan import PlanError, plan_range
from superhero_assets.core.store.output_store import OutputStore


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    next_offset: int  # the first offset not loaded yet
    high: int  # the high watermark when measured
    # Why no lag can be given: the stored offset is past the high watermark (the topic was
    # recreated), which `superhero load` refuses too. Never shown as lag 0.
    error: str | None = None
    # The first unloaded offset as stored (Redis, else the manifest's head); None when
    # nothing of the partition was loaded yet. Read once with the rest, so a report's
    # COMMITTED column and its lag come from the same read.
    committed_next: int | None = None

    @property
    def lag(self) -> int:
        return max(self.high - self.next_offset, 0)

    @property
    def name(self) -> str:
        return f"{self.topic}[{self.partition}]"


def committed_next_offsets(r: redis.Redis, store: OutputStore, topic: str) -> dict[int, int]:
    """{partition: first unloaded offset}; empty after a reset (everything is to load)."""
    st = state.read_state(r, topic)
    if st.status == "reset":
        return {}
    recorded = manifest.head_offsets(manifest.read_head(store), topic)
    if st.status != "ok":
        return {p: o + 1 for p, o in recorded.items()}
    # Where a run would start (core/run/planner.py): the manifest where it is ahead of Redis
    # or Redis lacks the partition (its keys were lost and only some shards wrote theirs
    # back), and the start for a partition marked to replay.
    loaded = {p: max(o, recorded.get(p, -1)) for p, o in st.last_offset.items()}
    loaded.update({p: o for p, o in recorded.items() if p not in st.last_offset})
    return {p: o + 1 for p, o in loaded.items() if st.last_offset.get(p) != state.REPLAY}


def measure(
    consumer: Consumer, r: redis.Redis, store: OutputStore, topics: tuple[str, ...]
) -> list[PartitionLag]:
    committed = {t: committed_next_offsets(r, store, t) for t in topics}  # Redis first
    result = []
    for topic in topics:
        for partition, (low, high) in watermarks(consumer, topic).items():
            stored = committed[topic].get(partition)
            start = max(stored if stored is not None else low, low)
            try:  # the loader's own rule for where a run would start
                plan_range(topic, partition, stored, low, high)
            except PlanError as exc:
                result.append(PartitionLag(topic, partition, start, high, str(exc), stored))
                continue
            result.append(PartitionLag(topic, partition, start, high, committed_next=stored))
    return result


def stale_partitions(
    consumer: Consumer, lags: list[PartitionLag], max_age_s: float, now_s: float | None = None
) -> list[PartitionLag]:
    """Partitions whose oldest unloaded message is older than max_age_s."""
    waiting = [p for p in lags if p.lag > 0 and p.error is None]
    if not waiting:
        return []
    cutoff_ms = int(((now_s or time.time()) - max_age_s) * 1000)
    found = consumer.offsets_for_times(
        [TopicPartition(p.topic, p.partition, cutoff_ms) for p in waiting], timeout=15
    )
    stale = []
    for lag, tp in zip(waiting, found, strict=True):
        # tp.offset: the first message at or after the cutoff (-1: none, all are older).
        if tp.offset < 0 or tp.offset > lag.next_offset:
            stale.append(lag)
    return stale


def oldest_age_s(consumer: Consumer, p: PartitionLag, timeout_s: float) -> float | None:
    """Seconds since the first unloaded message was produced, from that one message.

    offsets_for_times answers the opposite question (the offset of a time), so the message
    at next_offset is read: one poll, never committed. None if it did not come in time or
    carries no timestamp.
    """
    consumer.assign([TopicPartition(p.topic, p.partition, p.next_offset)])
    try:
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            message = consumer.poll(min(left, 1.0))
            if message is None or message.error() is not None:
                continue
            kind, timestamp_ms = message.timestamp()
            if kind == 0 or timestamp_ms < 0:  # TIMESTAMP_NOT_AVAILABLE
                return None
            # A producer whose clock runs ahead of ours would give a negative age.
            return round(max(time.time() - timestamp_ms / 1000, 0.0), 1)
        return None
    finally:
        consumer.unassign()
