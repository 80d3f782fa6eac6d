"""Where a new run starts: Redis state, the manifest's head and the broker's watermarks."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from confluent_kafka import Consumer

from superhero_assets.core.kafka.consume import watermarks
from superhero_assets.core.run import manifest
from superhero_assets.core.run.pending_run import PriorState
from superhero_assets.core.run.plan import Plan, chunk_range, make_etl_id, plan_range
from superhero_assets.core.run.state import TopicState
from superhero_assets.core.store.output_store import OutputStore


def new_plan(
    consumer: Consumer,
    store: OutputStore,
    states: dict[str, TopicState],
    config,
    log: logging.Logger,
) -> tuple[Plan, PriorState]:
    """Plan [next offset, high watermark) of every partition; also return the prior state."""
    head = manifest.read_head(store)
    replay_topics = [t for t, s in states.items() if s.status == "reset"]
    history = manifest.chunk_history(store, replay_topics) if replay_topics else {}
    prior = PriorState()
    ranges, chunks = [], []
    for topic, st in states.items():
        recorded = manifest.head_offsets(head, topic)
        if st.status == "reset":
            log.warning(
                "%s: reset requested in Redis; reloading it from the earliest offset", topic
            )
            loaded, counts = {}, {}
        elif st.status == "missing":
            if recorded:
                log.warning(
                    "%s: offset keys missing in Redis; recovered from the manifest (run %s)",
                    topic,
                    head.get("etl_id"),
                )
            loaded, counts = recorded, manifest.head_counts(head, topic)
        else:
            # The manifest is written before Redis: where it is ahead, trust it, so a Redis
            # restored from an old snapshot never makes a run load offsets twice.
            loaded = {p: max(o, recorded.get(p, -1)) for p, o in st.last_offset.items()}
            loaded.update({p: o for p, o in recorded.items() if p not in loaded})
            counts = {**manifest.head_counts(head, topic), **st.counts}
        prior.offsets[topic] = dict(loaded)
        prior.counts[topic] = dict(counts)
        for partition, (low, high) in watermarks(consumer, topic).items():
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
    kind = "replay" if replay_topics else "incremental"
    plan = Plan(
        make_etl_id(seq, kind, ranges),
        seq,
        kind,
        datetime.now(UTC).isoformat(timespec="milliseconds"),
        ranges,
        chunks,
    )
    return plan, prior


def plan_is_committed(plan: Plan, states: dict[str, TopicState]) -> bool:
    """Redis already holds this plan's end offsets: the run committed, then died."""
    for rng in plan.ranges:
        if not rng.size:
            continue
        st = states.get(rng.topic)
        if st is None or st.status != "ok" or st.last_offset.get(rng.partition) != rng.end:
            return False
    return True
