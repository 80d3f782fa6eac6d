"""Exactly-once, checked in memory that follows one file, not the whole table.

Each file holds the offsets of its name ({first}-{last}.parquet) for one topic-partition. So:
- a message appears once in the table when every file holds each offset once, only offsets
  of its own range, and no two files' ranges overlap; the first two are read from this
  run's files, one at a time (earlier runs' files were checked by their own runs), the last
  from the file names alone;
- offsets are contiguous when each of this run's files holds every offset of its range
  that holds a record (metadata only when it holds all of them; else compared with what
  Kafka serves there, see served_offsets), and so does the space left before each of this
  run's files, apart from the gap this run's plan recorded (offsets the broker no longer had).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from superhero_assets.core.kafka.served_offsets import ServedRange, every_offset
from superhero_assets.core.quality import table_checks
from superhero_assets.core.run.plan import Chunk, Plan
from superhero_assets.core.store.output_store import OutputStore
from superhero_assets.core.store.scan import scan

Key = tuple[str, int]
# What Kafka serves in a span: served_offsets.KafkaOffsets, or every_offset without Kafka.
Served = Callable[[Chunk], ServedRange]
# A space between files is compared this many offsets at a time (two int64 arrays).
SPACE_PIECE = 100_000


def file_ranges(store: OutputStore, table: str, keys: set[Key]) -> dict[Key, list[tuple]]:
    """{(topic, partition): sorted [(first, last)]} of the table's files, from their names."""
    ranges: dict[Key, list[tuple]] = {}
    for relpath in store.list(table, ".parquet"):
        chunk = Chunk.from_relpath(relpath)
        if chunk is not None and (chunk.topic, chunk.partition) in keys:
            ranges.setdefault((chunk.topic, chunk.partition), []).append((chunk.first, chunk.last))
    return {key: sorted(found) for key, found in ranges.items()}


def duplicates(store: OutputStore, plan: Plan, table: str = "buffer_meta") -> dict[str, int]:
    """{problem: rows} for messages this run's files could duplicate; empty when none."""
    found = {"repeated_in_a_file": 0, "outside_file_range": 0, "wrong_msg_id": 0}
    msg_id, offset = pl.col("msg_id"), pl.col("offset")
    expected_id = pl.concat_str(
        pl.col("topic"), pl.col("partition").cast(pl.String), offset.cast(pl.String), separator=":"
    )
    for chunk in plan.chunks:
        files = table_checks.chunk_file(store, chunk, table)
        if not files:
            continue
        # One pass over the file's four columns; a NULL counts as a problem (not provably fine).
        counts = scan(store, files).select(
            repeated_in_a_file=pl.len() - msg_id.drop_nulls().n_unique(),
            outside_file_range=_count(~offset.is_between(chunk.first, chunk.last)),
            wrong_msg_id=_count(msg_id != expected_id),
        )
        for problem, rows in counts.collect(engine="streaming").row(0, named=True).items():
            found[problem] += rows
    keys = {(c.topic, c.partition) for c in plan.chunks}
    overlap = 0
    for spans in file_ranges(store, table, keys).values():
        reach = -1
        for first, last in spans:
            overlap += max(0, min(reach, last) - first + 1)
            reach = max(reach, last)
    found["in_two_files"] = overlap
    return {problem: rows for problem, rows in found.items() if rows}


@dataclass
class Contiguity:
    """What the offsets of this run's files, and the space before them, come to.

    An offset that holds no record the loader would load (a transaction marker, an aborted
    record, one compacted away) is fine; a record Kafka serves that the table lacks is a hole.
    """

    holes: dict[str, int] = field(default_factory=dict)  # records served, not in the table
    not_served: dict[str, int] = field(default_factory=dict)  # rows Kafka serves no record at
    offsets_without_record: int = 0  # compared with Kafka and found to hold no record
    unverifiable: dict[str, list[list[int]]] = field(default_factory=dict)  # gone from Kafka
    ranges_compared: int = 0  # ranges whose file lacked offsets, compared with Kafka

    @property
    def passed(self) -> bool:
        return not self.holes and not self.not_served


def contiguity(
    store: OutputStore, plan: Plan, served: Served = every_offset, table: str = "buffer_meta"
) -> Contiguity:
    """Compare each span whose file lacks offsets with what served says Kafka holds there.

    Spans whose file holds every offset cost nothing but the file's metadata; the others are
    read one at a time (the file's offsets and Kafka's), so memory follows one chunk.
    """
    report = Contiguity()
    for span, files in _spans_to_explain(store, plan, table):
        if table_checks.row_count(store, files) != span.last - span.first + 1:
            _compare(report, store, files, served(span))
    return report


def holes(store: OutputStore, plan: Plan, table: str = "buffer_meta") -> dict[str, int]:
    """{topic[partition]: offsets missing} around and inside this run's files, counting every
    offset as a record (no transactions, no compaction): contiguity() without Kafka."""
    return contiguity(store, plan, every_offset, table).holes


def _spans_to_explain(
    store: OutputStore, plan: Plan, table: str
) -> Iterator[tuple[Chunk, list[str]]]:
    """(span, [its file] or []): this run's chunks, then the space before this run's files
    that neither this run's chunks nor the gap its plan records cover (left by earlier runs
    whose chunks held no record, or lost)."""
    for chunk in plan.chunks:
        yield chunk, table_checks.chunk_file(store, chunk, table)
    explained: dict[Key, list[tuple[int, int]]] = {}
    for chunk in plan.chunks:
        explained.setdefault((chunk.topic, chunk.partition), []).append((chunk.first, chunk.last))
    for r in plan.ranges:
        if r.gap:
            explained.setdefault((r.topic, r.partition), []).append(r.gap)
    ours = {(c.topic, c.partition, c.first) for c in plan.chunks}
    for (topic, partition), spans in file_ranges(store, table, set(explained)).items():
        for (_, prev_last), (first, _) in zip(spans, spans[1:], strict=False):
            # Only the space before one of this run's files is this run's to explain.
            if (topic, partition, first) not in ours:
                continue
            for lo, hi in _uncovered(prev_last + 1, first - 1, explained[(topic, partition)]):
                for start in range(lo, hi + 1, SPACE_PIECE):
                    yield Chunk(topic, partition, start, min(start + SPACE_PIECE - 1, hi)), []


def _uncovered(first: int, last: int, covered: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of first..last that no (first, last) of covered includes."""
    left, pos = [], first
    for lo, hi in sorted(covered):
        if hi < pos or lo > last:
            continue
        if lo > pos:
            left.append((pos, lo - 1))
        pos = max(pos, hi + 1)
    if pos <= last:
        left.append((pos, last))
    return left


def _compare(report: Contiguity, store: OutputStore, files: list[str], kafka: ServedRange) -> None:
    span, name = kafka.span, f"{kafka.span.topic}[{kafka.span.partition}]"
    report.ranges_compared += 1
    if kafka.readable > span.first:
        report.unverifiable.setdefault(name, []).append([span.first, kafka.readable - 1])
    table = table_checks.read_tables(store, files, ["offset"])
    rows = table["offset"].to_numpy() if files else np.empty(0, dtype=np.int64)
    rows = rows[(rows >= kafka.readable) & (rows <= span.last)]
    missing = np.setdiff1d(kafka.offsets, rows).size
    extra = np.setdiff1d(rows, kafka.offsets).size
    report.offsets_without_record += span.last - kafka.readable + 1 - kafka.offsets.size
    if missing:
        report.holes[name] = report.holes.get(name, 0) + missing
    if extra:
        report.not_served[name] = report.not_served.get(name, 0) + extra


def _count(mask: pl.Expr) -> pl.Expr:
    """True values of a boolean column (NULL counts as true: not provably fine)."""
    return mask.fill_null(True).sum()
