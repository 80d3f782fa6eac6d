"""Where a new run starts: Redis state, the manifest's head and the broker's watermarks."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from confluent_kafka import Consumer

from superhero_assets.core.kafka.consume import watermarks
from superhero_assets.core.run import manifest
from superhero_assets.core.run.pending_run import PriorState
from superhero_assets.core.run.plan import Plan, chunk_range, make_etl_id, plan_range
from superhero_assets.core.run.state import REPLAY, TopicState, replaying
from superhero_assets.core.store.output_store import OutputStore


def new_plan(
    consumer: Consumer,
    store: OutputStore,
    states: dict[str, TopicState],
    partitions: dict[str, list[int]],
    config,
    log: logging.Logger,
) -> tuple[Plan, PriorState]:
    """Plan [next offset, high watermark) of the given (locked) partitions of each topic;
    also return the state they start from."""
    head = manifest.read_head(store)
    replays = {(t, p) for t, ps in partitions.items() for p in ps if replaying(states[t], p)}
    replay_topics = sorted({t for t, _ in replays})
    history = manifest.chunk_history(store, replay_topics) if replay_topics else {}
    prior = PriorState()
    ranges, chunks = [], []
    for topic, mine in partitions.items():
        st = states[topic]
        if topic in replay_topics:
            log.warning(
                "%s: reset requested in Redis; reloading partitions %s from the earliest offset",
                topic,
                ", ".join(str(p) for t, p in sorted(replays) if t == topic),
            )
        loaded, counts = _loaded(st, head, topic, log)
        for p in mine:
            if (topic, p) in replays:
                loaded.pop(p, None)
                counts.pop(p, None)
        prior.offsets[topic] = {p: o for p, o in loaded.items() if p in mine}
        prior.counts[topic] = {p: c for p, c in counts.items() if p in mine}
        for partition, (low, high) in watermarks(consumer, topic).items():
            if partition not in mine:
                continue
            last = loaded.get(partition)
            rng = plan_range(topic, partition, None if last is None else last + 1, low, high)
            if rng.gap:
                log.warning(
                    "%s[%d]: offsets %d..%d were deleted by retention before they were "
                    "loaded; recording the gap",
                    topic,
                    partition,
                    *rng.gap,
                )
            rng, rng_chunks = chunk_range(
                rng, config.chunk_messages, history.get((topic, partition), [])
            )
            ranges.append(rng)
            chunks.extend(rng_chunks)
    seq = int(head.get("seq", 0)) + 1
    kind = "replay" if replays else "incremental"
    plan = Plan(
        make_etl_id(seq, kind, ranges),
        seq,
        kind,
        datetime.now(UTC).isoformat(timespec="milliseconds"),
        ranges,
        chunks,
    )
    return plan, prior


def _loaded(
    st: TopicState, head: dict, topic: str, log: logging.Logger
) -> tuple[dict[int, int], dict[int, int]]:
    """The offsets and counts loaded so far, per partition, from Redis and the manifest."""
    recorded = manifest.head_offsets(head, topic)
    if st.status == "reset":
        return {}, {}
    if st.status == "missing":
        if recorded:
            log.warning(
                "%s: offset keys missing in Redis; recovered from the manifest (run %s)",
                topic,
                head.get("etl_id"),
            )
        return recorded, manifest.head_counts(head, topic)
    # The manifest is written before Redis: where it is ahead, trust it, so a Redis restored
    # from an old snapshot never makes a run load offsets twice.
    loaded = {p: max(o, recorded.get(p, -1)) for p, o in st.last_offset.items() if o != REPLAY}
    loaded.update({p: o for p, o in recorded.items() if p not in st.last_offset})
    return loaded, {**manifest.head_counts(head, topic), **st.counts}


def plan_is_committed(plan: Plan, states: dict[str, TopicState]) -> bool:
    """Redis already holds this plan's end offsets: the run committed, then died."""
    for rng in plan.ranges:
        if not rng.size:
            continue
        st = states.get(rng.topic)
        if st is None or st.status != "ok" or st.last_offset.get(rng.partition) != rng.end:
            return False
    return True
