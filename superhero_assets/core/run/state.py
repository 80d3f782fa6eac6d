"""Offset state in Redis: the README's two keys per topic, read and interpreted.

The locks are in core/run/locks.py, the atomic commit in core/run/commit.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import redis

from superhero_assets.core import contract


class StateError(RuntimeError):
    """The offset state is unusable or was changed under a run; the message says what to do."""


@dataclass(frozen=True)
class TopicState:
    topic: str
    status: str  # "ok", "reset" (the README's reset values) or "missing" (keys gone)
    last_offset: dict[int, int]
    counts: dict[int, int]
    raw_last_offset: str | None
    raw_counts: str | None


def _is_reset(value: object) -> bool:
    return isinstance(value, int) and value < 0 or value == {"": 0}


def parse_state(topic: str, raw_last: str | None, raw_counts: str | None) -> TopicState:
    """Interpret the two keys; pure, so every reading of them is tested without Redis."""
    if raw_last is None:
        return TopicState(topic, "missing", {}, {}, raw_last, raw_counts)
    try:
        last = json.loads(raw_last)
        counts = json.loads(raw_counts) if raw_counts is not None else {}
    except ValueError:
        raise StateError(_bad(topic, "is not JSON")) from None
    if _is_reset(last) or _is_reset(counts):
        return TopicState(topic, "reset", {}, {}, raw_last, raw_counts)
    if not isinstance(last, dict) or not isinstance(counts, dict):
        raise StateError(_bad(topic, "is not a JSON object keyed by partition"))
    try:
        offsets = {int(p): int(o) for p, o in last.items()}
        totals = {int(p): int(c) for p, c in counts.items()}
    except (TypeError, ValueError):
        raise StateError(_bad(topic, "has a partition or offset that is not a number")) from None
    return TopicState(topic, "ok", offsets, totals, raw_last, raw_counts)


def _bad(topic: str, what: str) -> str:
    return (
        f"Redis key {contract.last_offset_key(topic)} (or its counts) {what}. To load the topic "
        f'again from the start, run: SET {contract.counts_key(topic)} "{{\\"\\": 0}}" and '
        f"SET {contract.last_offset_key(topic)} -1"
    )


def read_state(r: redis.Redis, topic: str) -> TopicState:
    raw_last, raw_counts = r.mget(contract.last_offset_key(topic), contract.counts_key(topic))
    return parse_state(
        topic,
        raw_last.decode() if raw_last is not None else None,
        raw_counts.decode() if raw_counts is not None else None,
    )


def encode_offsets(values: dict[int, int]) -> str:
    return json.dumps({str(p): values[p] for p in sorted(values)})


# A partition whose last offset is this is to be loaded again from the start: the README's
# reset, of a topic some shards have replayed and others not yet (core/run/commit.py).
REPLAY = -1


def partition_value(st: TopicState, partition: int) -> tuple[int | None, int | None]:
    """(last offset, count) of one partition as the state says: None where it has no entry,
    (REPLAY, 0) when the whole topic was reset. The commit compares exactly these."""
    if st.status == "reset":
        return REPLAY, 0
    return st.last_offset.get(partition), st.counts.get(partition)


def replaying(st: TopicState, partition: int) -> bool:
    """The README's reset asks for this partition to be loaded again from the start."""
    return partition_value(st, partition)[0] == REPLAY
