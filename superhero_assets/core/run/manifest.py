"""The output's own record of its runs, under `{OUTPUT_FS}/_manifest/` (outside every table).

- `pending/{etl_id}.json`: a run in progress (its plan, locks and the state it started
  from); a run that died leaves it, and the next run over any of its partitions redoes
  exactly that plan first. Runs of different shards each have their own.
- `runs/{seq}-{etl_id}.json`: one entry per finished run, written once its files are durable.
- `head/{topic}/{partition}.json`: the offset and count after the newest finished run over
  that partition, so lost Redis keys are recovered without loading anything twice. Each is
  written only by the run holding the partition's lock, so shards never race on it.

Outputs written before shards keep `pending.json` and `head.json`: both are still read.
"""

from __future__ import annotations

from typing import Any

from superhero_assets.core.run.pending_run import PendingRun
from superhero_assets.core.run.plan import Chunk
from superhero_assets.core.store.chunk_files import for_each
from superhero_assets.core.store.output_store import OutputStore

PENDING_DIR = "_manifest/pending"
HEAD_DIR = "_manifest/head"
RUNS = "_manifest/runs"
LEGACY_PENDING = "_manifest/pending.json"
LEGACY_HEAD = "_manifest/head.json"


def pending_path(etl_id: str) -> str:
    return f"{PENDING_DIR}/{etl_id}.json"


def read_pendings(store: OutputStore) -> list[PendingRun]:
    """Every run in progress or left by a run that died, oldest plan first."""
    paths = store.list(PENDING_DIR, ".json")
    found = [PendingRun.from_json(d) for d in for_each(store, store.read_json, paths) if d]
    legacy = store.read_json(LEGACY_PENDING)
    if legacy is not None:
        found.append(PendingRun.from_json(legacy))
    return sorted(found, key=lambda p: (p.plan.seq, p.plan.etl_id))


def read_pending(store: OutputStore, run_id: str | None = None) -> PendingRun | None:
    """The pending run of the Dagster run run_id; with None, the first of any."""
    for pending in read_pendings(store):
        if run_id is None or pending.run_id == run_id:
            return pending
    return None


def write_pending(store: OutputStore, pending: PendingRun) -> None:
    store.write_json(pending_path(pending.plan.etl_id), pending.to_json())


def clear_pending(store: OutputStore, pending: PendingRun) -> None:
    store.delete(pending_path(pending.plan.etl_id))
    legacy = store.read_json(LEGACY_PENDING)
    if legacy is not None and legacy["plan"]["etl_id"] == pending.plan.etl_id:
        store.delete(LEGACY_PENDING)


def run_entry_path(seq: int, etl_id: str) -> str:
    return f"{RUNS}/{seq:010d}-{etl_id}.json"


def head_path(topic: str, partition: int) -> str:
    return f"{HEAD_DIR}/{topic}/{partition:03d}.json"


def read_head(store: OutputStore) -> dict[str, Any]:
    """{seq, etl_id, offsets: {topic: {partition: offset}}, counts: ...} over every partition:
    each partition's own head where it has one, else what an older head.json recorded."""
    head = store.read_json(LEGACY_HEAD) or {"seq": 0, "offsets": {}, "counts": {}}
    paths = store.list(HEAD_DIR, ".json")
    for part in for_each(store, store.read_json, paths) if paths else []:
        if not part:
            continue
        topic, partition = part["topic"], str(part["partition"])
        head["offsets"].setdefault(topic, {})[partition] = part["offset"]
        head["counts"].setdefault(topic, {})[partition] = part["count"]
        if int(part["seq"]) > int(head.get("seq", 0)):
            head["seq"], head["etl_id"] = part["seq"], part["etl_id"]
    return head


def head_offsets(head: dict[str, Any], topic: str) -> dict[int, int]:
    return {int(p): int(o) for p, o in head.get("offsets", {}).get(topic, {}).items()}


def head_counts(head: dict[str, Any], topic: str) -> dict[int, int]:
    return {int(p): int(c) for p, c in head.get("counts", {}).get(topic, {}).items()}


def append_run(store: OutputStore, entry: dict[str, Any]) -> None:
    """Record a finished run: its entry first, then the head of each partition it loaded.

    A head never moves back: a run fenced out after stalling past its lock TTL (its plan
    redone by another run, and newer runs committed since) must not record older offsets,
    or a later loss of the Redis keys would recover them and load those offsets twice.
    """
    store.write_json(run_entry_path(entry["seq"], entry["etl_id"]), entry)
    parts = [
        (topic, int(p), offset, entry["counts_after"][topic].get(p, 0))
        for topic, offsets in entry["offsets_after"].items()
        for p, offset in offsets.items()
    ]

    def write(part: tuple[str, int, int, int]) -> None:
        topic, partition, offset, count = part
        before = store.read_json(head_path(topic, partition)) or {"seq": 0}
        if int(before["seq"]) <= int(entry["seq"]):
            store.write_json(
                head_path(topic, partition),
                {
                    "topic": topic,
                    "partition": partition,
                    "offset": offset,
                    "count": count,
                    "seq": entry["seq"],
                    "etl_id": entry["etl_id"],
                },
            )

    if parts:
        for_each(store, write, parts)


def run_entries(store: OutputStore) -> list[dict[str, Any]]:
    return [store.read_json(p) for p in store.list(RUNS, ".json")]


def chunk_history(store: OutputStore, topics: list[str]) -> dict[tuple[str, int], list]:
    """Every chunk any finished run wrote, per topic-partition, for a replay to line up with."""
    history: dict[tuple[str, int], set[tuple[int, int]]] = {}
    for entry in run_entries(store):
        for c in entry.get("chunks", []):
            chunk = Chunk(c["topic"], c["partition"], c["first"], c["last"])
            if chunk.topic in topics:
                history.setdefault((chunk.topic, chunk.partition), set()).add(
                    (chunk.first, chunk.last)
                )
    return {k: sorted(v) for k, v in history.items()}
