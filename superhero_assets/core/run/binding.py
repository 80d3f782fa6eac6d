"""Which output and which Kafka cluster the Redis offsets belong to.

The README's two keys say how far a topic was loaded, but not where the rows went. A run
against another output (another bucket, `./data` seen from another folder) would trust
them and skip every message that went elsewhere. So each output root has an identity
(`_manifest/output.json`), and each commit records, in a key beside the README's two,
the output root, its identity and the Kafka cluster id it was committed for. A run checks
that record before it locks or reads anything, and refuses when the state is not this
output's, naming both places and the command that fixes it.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import redis
from confluent_kafka import Consumer

from superhero_assets.core import contract
from superhero_assets.core.kafka.consume import cluster_metadata
from superhero_assets.core.run import manifest
from superhero_assets.core.run.commit import PartitionCommit, TopicCommit, commit
from superhero_assets.core.run.pending_run import PriorState
from superhero_assets.core.run.state import StateError, TopicState, partition_value, read_state
from superhero_assets.core.store.output_store import OutputStore

IDENTITY = "_manifest/output.json"
EMPTY_FILE = "empty.parquet"
UNKNOWN = "unknown"  # a cluster that gives no id: never told apart from another


class BindingError(StateError):
    """The Redis offsets belong to another output or Kafka cluster; the message says what to do."""


@dataclass(frozen=True)
class Binding:
    """What one topic's committed offsets were committed for."""

    output_root: str
    output_id: str
    kafka_cluster_id: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> Binding | None:
        try:
            data = json.loads(text)
            return cls(
                str(data["output_root"]), str(data["output_id"]), str(data["kafka_cluster_id"])
            )
        except (ValueError, KeyError, TypeError):
            return None  # unreadable: treated as absent, and the ahead-of-manifest test still runs


def output_id(store: OutputStore) -> str | None:
    """The identity of the output at store's root; None for an output never written to."""
    found = store.read_json(IDENTITY)
    return str(found["output_id"]) if isinstance(found, dict) and "output_id" in found else None


def ensure_output_id(store: OutputStore, fresh: bool = False, r: redis.Redis | None = None) -> str:
    """The output's identity, created on first use (or anew: an adopted copy gets its own).

    With r, a first creation happens under a Redis lock on the output's root: shards start
    at once and hold different partition locks, and two of them must not give a new output
    two identities.
    """
    existing = output_id(store)
    if existing is not None and not fresh:
        return existing
    if r is not None and not fresh:
        with _identity_lock(r, comparable_root(store)):
            return ensure_output_id(store)
    created = {
        "output_id": str(uuid.uuid4()),
        "created_for": store.root,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if existing is None:  # an output new to this version: every table readable at once
        write_empty_tables(store)
    store.write_json(IDENTITY, created)
    return created["output_id"]


@contextmanager
def _identity_lock(r: redis.Redis, root: str, ttl_ms: int = 60_000) -> Iterator[None]:
    key = contract.identity_lock_key(root)
    token, deadline = str(uuid.uuid4()), time.monotonic() + ttl_ms / 1000
    while not r.set(key, token, nx=True, px=ttl_ms):
        if time.monotonic() > deadline:
            raise StateError(
                f"Another run has been giving {root} its identity for {ttl_ms // 1000}s; "
                f"if no run is starting, DEL {key} and run again."
            )
        time.sleep(0.05)
    try:
        yield
    finally:
        if r.get(key) == token.encode():
            r.delete(key)


def write_empty_tables(store: OutputStore) -> None:
    """`{table}/empty.parquet`: the table's schema with no rows, so a glob over a table
    that has no rows yet (quarantine, often) reads as zero rows in any reader."""
    for table, schema in contract.TABLES.items():
        if not store.exists(f"{table}/{EMPTY_FILE}"):
            store.write_parquet(f"{table}/{EMPTY_FILE}", schema.empty_table())


def kafka_cluster_id(consumer: Consumer, timeout_s: float = 15.0) -> str:
    """The id the Kafka cluster gives itself (KRaft's cluster.id); stable across restarts."""
    return cluster_metadata(consumer, None, timeout_s).cluster_id or UNKNOWN


def read_bindings(r: redis.Redis, topics: tuple[str, ...]) -> dict[str, Binding | None]:
    raw = r.mget([contract.binding_key(t) for t in topics]) if topics else []
    return {
        t: Binding.from_json(v) if v is not None else None for t, v in zip(topics, raw, strict=True)
    }


def comparable_root(store: OutputStore) -> str:
    """The output root as the binding records it: a local folder through its symlinks."""
    return os.path.realpath(store.root) if store.is_local else store.root


def check_output(
    r: redis.Redis, store: OutputStore, consumer: Consumer, topics: tuple[str, ...]
) -> Binding:
    """This output's binding (output_id "" if it has none yet); raises BindingError when the
    Redis offsets of any topic belong elsewhere. Reads only: no lock, no write."""
    here = Binding(comparable_root(store), output_id(store) or "", kafka_cluster_id(consumer))
    # Redis before the manifest: a commit writes the manifest first, so a shard committing
    # in between can make the head newer than Redis, never older.
    states, bindings = {t: read_state(r, t) for t in topics}, read_bindings(r, topics)
    head = manifest.read_head(store)
    refuse_foreign_state(
        states, bindings, here, {t: manifest.head_offsets(head, t) for t in topics}
    )
    return here


def refuse_foreign_state(
    states: dict[str, TopicState],
    bindings: dict[str, Binding | None],
    here: Binding,
    head_offsets: dict[str, dict[int, int]],
) -> None:
    """Raise BindingError unless every topic's committed state belongs to this output.

    A reset (the README's commands) is a deliberate replay into this output, and missing
    keys are recovered from this output's own manifest: neither is checked.
    """
    for topic, st in states.items():
        if st.status != "ok":
            continue
        bound = bindings.get(topic)
        if (
            bound is not None
            and UNKNOWN not in (bound.kafka_cluster_id, here.kafka_cluster_id)
            and (bound.kafka_cluster_id != here.kafka_cluster_id)
        ):
            raise BindingError(
                f"The Redis offsets of {topic} were committed for Kafka cluster "
                f"{bound.kafka_cluster_id}, but KAFKA_BOOTSTRAP_SERVERS reaches cluster "
                f"{here.kafka_cluster_id}: its offsets mean nothing there. Point "
                f"KAFKA_BOOTSTRAP_SERVERS at the original cluster, or load the topic again from "
                f"the start with the README's reset commands ({reset_commands(topic)})."
            )
        if (
            bound is not None
            and bound.output_root == here.output_root
            and (bound.output_id != here.output_id)
        ):
            raise BindingError(
                f"The Redis offsets of {topic} were committed for another output at the same "
                f"place, {here.output_root}: its {IDENTITY} differs (the folder or bucket was "
                f"deleted and made anew, or replaced). Restore the output that holds the rows; "
                f"or if this one does (a copy put in its place), run `superhero output adopt`; "
                f"or to load everything again, use the README's reset commands "
                f"({reset_commands(topic)})."
            )
        if bound is not None and (bound.output_root, bound.output_id) != (
            here.output_root,
            here.output_id,
        ):
            raise BindingError(
                f"The Redis offsets of {topic} were committed for the output "
                f"{bound.output_root}, not for OUTPUT_FS={here.output_root}: loading here would "
                f"skip every message already in {bound.output_root}. Set OUTPUT_FS back to "
                f"{bound.output_root}; or to move the output, copy it to {here.output_root} and "
                f"run `superhero output adopt`; or to load everything again into "
                f"{here.output_root}, use the README's reset commands ({reset_commands(topic)})."
            )
        recorded = head_offsets.get(topic, {})
        ahead = {p: o for p, o in st.last_offset.items() if o > recorded.get(p, -1)}
        if ahead:
            raise BindingError(
                f"The Redis offsets of {topic} ({_offsets(ahead)}) are ahead of what the output "
                f"OUTPUT_FS={here.output_root} records in {IDENTITY.rsplit('/', 1)[0]}/head/ "
                f"({_offsets(recorded) or 'nothing'}): its rows are in another output, or were "
                f"deleted. Point OUTPUT_FS at the output that holds them; or to load everything "
                f"again into {here.output_root}, use the README's reset commands "
                f"({reset_commands(topic)})."
            )


def reset_commands(topic: str) -> str:
    return (
        f'SET {contract.counts_key(topic)} "{{\\"\\": 0}}"; '
        f"SET {contract.last_offset_key(topic)} -1"
    )


def _offsets(offsets: dict[int, int]) -> str:
    return ", ".join(f"partition {p} at {o}" for p, o in sorted(offsets.items()))


def write_back(
    r: redis.Redis,
    tokens: dict[str, str],
    states: dict[str, TopicState],
    prior: PriorState,
    here: Binding,
) -> list[str]:
    """With nothing to load, still leave Redis telling the truth: offsets recovered from the
    manifest (the keys were lost) are written back, and offsets committed before the binding
    existed are bound to this output. Under the run's locks; returns the topics written."""
    bound = read_bindings(r, tuple(states))

    def behind(t: str) -> bool:  # a partition Redis lacks, or holds behind the manifest
        st = states[t]
        return st.status == "ok" and any(
            st.last_offset.get(p, -1) < o for p, o in prior.offsets[t].items()
        )

    stale = [
        t
        for t, st in states.items()
        if prior.offsets.get(t)
        and (st.status == "missing" or (st.status == "ok" and bound[t] != here) or behind(t))
    ]
    if stale:
        commit(
            r,
            tokens,
            [
                TopicCommit(
                    t,
                    [
                        PartitionCommit(
                            p,
                            partition_value(states[t], p),
                            (prior.offsets[t].get(p), prior.counts[t].get(p)),
                        )
                        for p in sorted(prior.offsets[t])
                    ],
                    known=[],
                )
                for t in stale
            ],
            here.to_json(),
        )
    return stale
