"""Watermarks and committed offsets to a run's plan: which offsets, in which chunks, which files.

Everything here is a pure function of its inputs, so a run that died is redone with the
same plan and writes the same file names, and a replay after a reset reuses the chunk
boundaries of the files it replaces, so it overwrites them instead of adding duplicates.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass

_ETL_NAMESPACE = uuid.UUID("5d1b0f0e-3f8a-5b7c-9c1e-2a4d6e8f0b13")


class PlanError(RuntimeError):
    """The stored offsets cannot be planned from; the message says how to recover."""


@dataclass(frozen=True, order=True)
class Chunk:
    """Offsets first..last (inclusive) of one topic-partition: one file per table."""

    topic: str
    partition: int
    first: int
    last: int

    @property
    def stem(self) -> str:
        return f"{self.topic}/{self.partition:03d}/{self.first:020d}-{self.last:020d}"

    def relpath(self, table: str) -> str:
        return f"{table}/{self.stem}.parquet"

    @classmethod
    def from_relpath(cls, relpath: str) -> Chunk | None:
        """The chunk a file of relpath() holds; None for any other file."""
        *_, topic, partition, name = ["", "", "", *relpath.split("/")]
        first, _, last = name.removesuffix(".parquet").partition("-")
        if not (partition.isdigit() and first.isdigit() and last.isdigit()):
            return None
        return cls(topic, int(partition), int(first), int(last))


@dataclass(frozen=True)
class PartitionRange:
    """What a run reads from one partition: start..end inclusive (empty when end < start)."""

    topic: str
    partition: int
    start: int
    end: int
    low: int
    high: int
    gap: tuple[int, int] | None = None  # offsets lost to retention before start
    kept: tuple[tuple[int, int], ...] = ()  # earlier chunks a replay cannot reread, left as is

    @property
    def size(self) -> int:
        return max(self.end - self.start + 1, 0)


@dataclass
class Plan:
    etl_id: str
    seq: int
    kind: str  # "incremental" or "replay"
    created_at: str
    ranges: list[PartitionRange]
    chunks: list[Chunk]

    @property
    def is_empty(self) -> bool:
        return not self.chunks

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Plan:
        ranges = [
            PartitionRange(
                **{
                    **r,
                    "gap": tuple(r["gap"]) if r["gap"] else None,
                    "kept": tuple(tuple(k) for k in r["kept"]),
                }
            )
            for r in data["ranges"]
        ]
        chunks = [Chunk(**c) for c in data["chunks"]]
        return cls(data["etl_id"], data["seq"], data["kind"], data["created_at"], ranges, chunks)


def plan_range(
    topic: str, partition: int, next_offset: int | None, low: int, high: int
) -> PartitionRange:
    """[next_offset, high) clipped to what the broker still has; None means from the start."""
    start = low if next_offset is None else next_offset
    if start > high:
        raise PlanError(
            f"{topic}[{partition}]: the stored offset {start - 1} is past the broker's high "
            f"watermark {high}; the topic was probably recreated. Reset it with the README's "
            "reset commands to load it from the start."
        )
    gap = None
    if start < low:
        gap, start = (start, low - 1), low
    return PartitionRange(topic, partition, start, high - 1, low, high, gap)


def chunk_range(
    rng: PartitionRange, batch_size: int, history: list[tuple[int, int]] = ()
) -> tuple[PartitionRange, list[Chunk]]:
    """Split a range into chunks, reusing earlier chunk boundaries (a replay) where it can."""
    chunks: list[Chunk] = []
    kept: list[tuple[int, int]] = []
    pos = rng.start

    def fresh_until(stop: int) -> None:
        nonlocal pos
        while pos <= stop:
            last = min(pos + batch_size - 1, stop)
            chunks.append(Chunk(rng.topic, rng.partition, pos, last))
            pos = last + 1

    for first, last in sorted(history):
        if last < pos or first > rng.end:
            continue
        if first < pos or last > rng.end:
            # Part of this earlier file can no longer be reread: keep it rather than
            # write a second file holding some of the same offsets.
            kept.append((first, last))
            pos = max(pos, last + 1)
            continue
        fresh_until(first - 1)
        chunks.append(Chunk(rng.topic, rng.partition, first, last))
        pos = last + 1
    fresh_until(rng.end)
    if kept:
        rng = PartitionRange(**{**asdict(rng), "gap": rng.gap, "kept": tuple(kept)})
    return rng, chunks


def make_etl_id(seq: int, kind: str, ranges: list[PartitionRange]) -> str:
    """Deterministic from the run's sequence number and planned ranges."""
    key = {
        "seq": seq,
        "kind": kind,
        "ranges": sorted([r.topic, r.partition, r.start, r.end] for r in ranges if r.size),
    }
    return str(uuid.uuid5(_ETL_NAMESPACE, json.dumps(key, sort_keys=True)))
