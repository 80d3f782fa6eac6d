"""Exactly-once, checked in memory that follows one file, not the whole table.

Each file holds the offsets of its name ({first}-{last}.parquet) for one topic-partition. So:
- a message appears once in the table when every file holds each offset once, only offsets
  of its own range, and no two files' ranges overlap; the first two are read from this
  run's files, one at a time (earlier runs' files were checked by their own runs), the last
  from the file names alone;
- offsets are contiguous when each of this run's files holds every offset of its range
  (metadata only) and no space is left between neighbouring files, apart from the gap this
  run's plan recorded (offsets the broker no longer had).
"""

from __future__ import annotations

import pyarrow.compute as pc

from superhero_assets.core import checks
from superhero_assets.core.plan import Chunk, Plan
from superhero_assets.core.store import OutputStore

Key = tuple[str, int]


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
    for chunk in plan.chunks:
        files = checks.chunk_file(store, chunk, table)
        if not files:
            continue
        t = checks.read_tables(store, files, ["msg_id", "topic", "partition", "offset"])
        found["repeated_in_a_file"] += t.num_rows - pc.count_distinct(t["msg_id"]).as_py()
        inside = pc.and_(
            pc.greater_equal(t["offset"], chunk.first), pc.less_equal(t["offset"], chunk.last)
        )
        found["outside_file_range"] += _count(pc.invert(inside))
        expected_id = pc.binary_join_element_wise(
            t["topic"], t["partition"].cast("string"), t["offset"].cast("string"), ":"
        )
        found["wrong_msg_id"] += _count(pc.not_equal(t["msg_id"], expected_id))
    keys = {(c.topic, c.partition) for c in plan.chunks}
    overlap = 0
    for spans in file_ranges(store, table, keys).values():
        reach = -1
        for first, last in spans:
            overlap += max(0, min(reach, last) - first + 1)
            reach = max(reach, last)
    found["in_two_files"] = overlap
    return {problem: rows for problem, rows in found.items() if rows}


def holes(store: OutputStore, plan: Plan, table: str = "buffer_meta") -> dict[str, int]:
    """{topic[partition]: offsets missing} around and inside this run's files."""
    missing: dict[str, int] = {}
    for chunk in plan.chunks:
        lost = (chunk.last - chunk.first + 1) - checks.row_count(
            store, checks.chunk_file(store, chunk, table)
        )
        if lost > 0:
            name = f"{chunk.topic}[{chunk.partition}]"
            missing[name] = missing.get(name, 0) + lost
    keys = {(c.topic, c.partition) for c in plan.chunks}
    gaps = {(r.topic, r.partition): r.gap for r in plan.ranges if r.gap}
    ours = {(c.topic, c.partition, c.first) for c in plan.chunks}
    for (topic, partition), spans in file_ranges(store, table, keys).items():
        for (_, prev_last), (first, _) in zip(spans, spans[1:], strict=False):
            # Only the space before one of this run's files is this run's to explain.
            space = first - prev_last - 1
            recorded = gaps.get((topic, partition)) == (prev_last + 1, first - 1)
            if space > 0 and (topic, partition, first) in ours and not recorded:
                name = f"{topic}[{partition}]"
                missing[name] = missing.get(name, 0) + space
    return missing


def _count(mask) -> int:
    """True values of a boolean column (NULL counts as true: not provably fine)."""
    return len(mask) - (pc.sum(pc.fill_null(pc.invert(mask), False).cast("int64")).as_py() or 0)
