"""A deliberate move of the output: after copying it, bind the Redis offsets to the copy.

`superhero output adopt` with OUTPUT_FS at the copy. It refuses unless the copy records, in
its manifest, at least every offset Redis says was loaded: binding Redis to an output that
lacks rows would lose them as surely as loading into the wrong folder.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from superhero_assets.core import contract
from superhero_assets.core.run import locks, manifest, state
from superhero_assets.core.run.binding import (
    Binding,
    BindingError,
    comparable_root,
    ensure_output_id,
    read_bindings,
    reset_commands,
)
from superhero_assets.core.store.output_store import OutputStore


@dataclass(frozen=True)
class Adopted:
    topic: str
    before: Binding | None
    after: Binding


def adopt(
    r: redis.Redis,
    store: OutputStore,
    cluster_id: str,
    partitions: dict[str, list[int]],
    ttl_ms: int,
) -> list[Adopted]:
    """Bind every topic's offsets to this output, under the locks of all its partitions (no
    run in between)."""
    topics = tuple(partitions)
    tokens = locks.acquire_locks(r, [(t, p) for t, ps in partitions.items() for p in ps], ttl_ms)
    try:
        head = manifest.read_head(store)
        before = read_bindings(r, topics)
        for topic in topics:
            st = state.read_state(r, topic)
            bound = before[topic]
            if bound is not None and st.status == "ok" and bound.kafka_cluster_id != cluster_id:
                raise BindingError(
                    f"The Redis offsets of {topic} were committed for Kafka cluster "
                    f"{bound.kafka_cluster_id}, not {cluster_id}; adopting an output does not "
                    f"move them between clusters. Reload the topic with the README's reset "
                    f"commands ({reset_commands(topic)})."
                )
            recorded = manifest.head_offsets(head, topic)
            lacking = {p: o for p, o in st.last_offset.items() if o > recorded.get(p, -1)}
            if st.status == "ok" and lacking:
                raise BindingError(
                    f"OUTPUT_FS={store.root} does not hold every offset Redis says was loaded "
                    f"for {topic} (missing up to {sorted(lacking.items())}): copy the whole old "
                    f"output, _manifest/ included, then run `superhero output adopt` again."
                )
        # The copy gets an identity of its own, so the original is told apart from it.
        here = Binding(comparable_root(store), ensure_output_id(store, fresh=True), cluster_id)
        r.mset({contract.binding_key(t): here.to_json() for t in topics})
        return [Adopted(t, before[t], here) for t in topics]
    finally:
        locks.release_locks(r, tokens)
