"""The run in progress, typed: what `_manifest/pending/{etl_id}.json` holds and every phase takes.

prepare() writes it under the partition locks; land and commit take it, in one process or in
Dagster steps of their own; a run that dies leaves it, and the next run redoes exactly its
plan. The JSON keys are those earlier versions wrote, so a pending run left by one is still
redone (a "derived" key they may hold, the chunks derived while landing, is not needed
any more and is ignored).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from superhero_assets.core.run.plan import Plan

# {topic: {partition: value}}: offsets or message counts.
PerPartition = dict[str, dict[int, int]]


@dataclass(frozen=True)
class PriorState:
    """The offsets and counts the run starts from: what its commit advances."""

    offsets: PerPartition = field(default_factory=dict)
    counts: PerPartition = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"offsets": _str_keys(self.offsets), "counts": _str_keys(self.counts)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PriorState:
        return cls(_int_keys(data["offsets"]), _int_keys(data["counts"]))


@dataclass(frozen=True)
class PendingRun:
    """One run's plan and the locks and Redis state it was planned under."""

    plan: Plan
    tokens: dict[str, str]  # {"topic:partition": fencing token of the lock this run holds}
    # {topic: [last_offset, counts]} as raw Redis values: the commit refuses if they moved.
    expected: dict[str, list[str | None]]
    prior: PriorState
    started_at: int  # epoch milliseconds: etl_meta.timestamp_start
    run_id: str  # who runs it: a Dagster run id, or the CLI's own
    binding: str  # core/binding.Binding as JSON: which output and cluster the commit is for
    # {topic: every partition it had when planned}: a commit into a reset topic marks the
    # partitions of other shards as still to replay (core/run/commit.py).
    known: dict[str, list[int]] = field(default_factory=dict)
    shard: str = "1/1"  # which shard planned it, for the run's record

    def partitions(self) -> set[tuple[str, int]]:
        """The topic-partitions this plan loads: its locks must be held to redo it."""
        return {(r.topic, r.partition) for r in self.plan.ranges}

    def known_partitions(self, topic: str) -> list[int]:
        ranged = {r.partition for r in self.plan.ranges if r.topic == topic}
        return sorted(ranged | set(self.known.get(topic, [])))

    def redone_by(
        self,
        tokens: dict[str, str],
        expected: dict[str, list[str | None]],
        run_id: str,
        binding: str,
    ) -> PendingRun:
        """The same plan, taken over by a new run under its own locks."""
        return replace(self, tokens=tokens, expected=expected, run_id=run_id, binding=binding)

    def to_json(self) -> dict[str, Any]:
        return {
            "plan": self.plan.to_json(),
            "tokens": self.tokens,
            "expected": self.expected,
            "prior": self.prior.to_json(),
            "started_at": self.started_at,
            "run_id": self.run_id,
            "binding": self.binding,
            "known": self.known,
            "shard": self.shard,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PendingRun:
        return cls(
            plan=Plan.from_json(data["plan"]),
            # Versions before shards locked whole topics: such tokens lock nothing now.
            tokens={n: t for n, t in data["tokens"].items() if n.rpartition(":")[2].isdigit()},
            expected=data["expected"],
            prior=PriorState.from_json(data["prior"]),
            started_at=data["started_at"],
            run_id=data.get("run_id", ""),
            binding=data.get("binding", ""),
            known=data.get("known", {}),
            shard=data.get("shard", "1/1"),
        )


def _str_keys(values: PerPartition) -> dict[str, dict[str, int]]:
    return {topic: {str(p): v for p, v in parts.items()} for topic, parts in values.items()}


def _int_keys(values: dict[str, dict[str, int]]) -> PerPartition:
    return {topic: {int(p): v for p, v in parts.items()} for topic, parts in values.items()}
