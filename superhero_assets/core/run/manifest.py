"""The output's own record of its runs, under `{OUTPUT_FS}/_manifest/` (outside every table).

- `pending.json`: the run in progress (its plan, locks and the state it started from); a
  run that died leaves it, and the next run redoes exactly that plan.
- `runs/{seq}-{etl_id}.json`: one entry per finished run, written once its files are durable.
- `head.json`: the offsets and counts after the newest finished run, so lost Redis keys are
  recovered without loading anything twice.
"""

from __future__ import annotations

from typing import Any

from superhero_assets.core.run.pending_run import PendingRun
from superhero_assets.core.run.plan import Chunk
from superhero_assets.core.store.output_store import OutputStore

PENDING = "_manifest/pending.json"
HEAD = "_manifest/head.json"
RUNS = "_manifest/runs"


def read_pending(store: OutputStore) -> PendingRun | None:
    data = store.read_json(PENDING)
    return None if data is None else PendingRun.from_json(data)


def write_pending(store: OutputStore, pending: PendingRun) -> None:
    store.write_json(PENDING, pending.to_json())


def clear_pending(store: OutputStore) -> None:
    store.delete(PENDING)


def run_entry_path(seq: int, etl_id: str) -> str:
    return f"{RUNS}/{seq:010d}-{etl_id}.json"


def read_head(store: OutputStore) -> dict[str, Any]:
    return store.read_json(HEAD) or {"seq": 0, "offsets": {}, "counts": {}}


def head_offsets(head: dict[str, Any], topic: str) -> dict[int, int]:
    return {int(p): int(o) for p, o in head.get("offsets", {}).get(topic, {}).items()}


def head_counts(head: dict[str, Any], topic: str) -> dict[int, int]:
    return {int(p): int(c) for p, c in head.get("counts", {}).get(topic, {}).items()}


def append_run(store: OutputStore, entry: dict[str, Any], head: dict[str, Any]) -> None:
    """Record a finished run: its entry first, then the head that points past it.

    The head never moves back: a run fenced out after stalling past its lock TTL (its plan
    redone by another run, and newer runs committed since) must not record older offsets,
    or a later loss of the Redis keys would recover them and load those offsets twice.
    """
    store.write_json(run_entry_path(entry["seq"], entry["etl_id"]), entry)
    if int(read_head(store).get("seq", 0)) <= int(head["seq"]):
        store.write_json(HEAD, head)


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
