"""The whole-table checks see a duplicated message and a missing offset (files only)."""

import numpy as np
import pyarrow as pa
import pytest

from superhero_assets.core import contract
from superhero_assets.core.kafka.served_offsets import ServedRange
from superhero_assets.core.quality import offset_checks, table_checks
from superhero_assets.core.run import manifest
from superhero_assets.core.run.plan import Chunk, PartitionRange, Plan
from superhero_assets.core.store.output_store import OutputStore


def buffer_meta(offsets: list[int], partition: int = 0, topic: str = "lib.server.game"):
    n = len(offsets)
    columns = {
        "etl_id": ["e"] * n,
        "msg_id": [f"{topic}:{partition}:{o}" for o in offsets],
        "checksum": ["00000000"] * n,
        "headers": [[] for _ in range(n)],
        "key": [None] * n,
        "offset": offsets,
        "partition": [partition] * n,
        "serialized_key_size": [-1] * n,
        "serialized_value_size": [10] * n,
        "timestamp": [0] * n,
        "timestamp_type": [1] * n,
        "topic": [topic] * n,
        "_is_protocol": [False] * n,
    }
    return pa.table(columns, schema=contract.BUFFER_META)


def write(store, offsets, partition=0):
    first, last = min(offsets), max(offsets)
    path = f"buffer_meta/lib.server.game/{partition:03d}/{first:020d}-{last:020d}.parquet"
    store.write_parquet(path, buffer_meta(offsets, partition))


def test_no_duplicates_and_no_holes_in_contiguous_files(tmp_path):
    store = OutputStore(str(tmp_path))
    write(store, list(range(0, 10)))
    write(store, list(range(10, 20)))
    write(store, list(range(0, 5)), partition=1)
    assert table_checks.duplicate_msg_ids(store, "buffer_meta") == 0
    assert table_checks.offset_holes(store) == {}


def test_a_message_in_two_files_is_a_duplicate(tmp_path):
    store = OutputStore(str(tmp_path))
    write(store, list(range(0, 10)))
    write(store, list(range(9, 20)))  # offset 9 again
    assert table_checks.duplicate_msg_ids(store, "buffer_meta") == 1


def test_a_missing_offset_is_a_hole_unless_the_manifest_records_the_gap(tmp_path):
    store = OutputStore(str(tmp_path))
    write(store, list(range(0, 10)))
    write(store, list(range(13, 20)))  # 10, 11 and 12 are missing
    assert table_checks.offset_holes(store) == {"lib.server.game[0]": 3}
    gap = {"topic": "lib.server.game", "partition": 0, "gap": [10, 12]}
    store.write_json(manifest.run_entry_path(1, "e"), {"ranges": [gap]})
    assert table_checks.offset_holes(store) == {}


# The per-run checks the Dagster assets use: this run's files, and the names of all files.
def plan_of(*chunks, gap=None):
    first = min(c.first for c in chunks)
    last = max(c.last for c in chunks)
    rng = PartitionRange("lib.server.game", 0, first, last, 0, last + 1, gap)
    return Plan("e", 1, "incremental", "now", [rng], list(chunks))


def chunk(first, last):
    return Chunk("lib.server.game", 0, first, last)


def test_a_clean_run_has_no_duplicates_and_no_holes(tmp_path):
    store = OutputStore(str(tmp_path))
    write(store, list(range(0, 10)))
    write(store, list(range(10, 20)))
    plan = plan_of(chunk(10, 19))
    assert offset_checks.duplicates(store, plan) == {}
    assert offset_checks.holes(store, plan) == {}


def test_a_run_file_overlapping_an_older_one_is_a_duplicate(tmp_path):
    store = OutputStore(str(tmp_path))
    write(store, list(range(0, 10)))
    write(store, list(range(5, 15)))
    assert offset_checks.duplicates(store, plan_of(chunk(5, 14))) == {"in_two_files": 5}


def test_a_repeated_or_stray_row_in_a_run_file_is_a_duplicate(tmp_path):
    store = OutputStore(str(tmp_path))
    path = "buffer_meta/lib.server.game/000/00000000000000000010-00000000000000000019.parquet"
    store.write_parquet(path, buffer_meta([*range(10, 19), 18, 25]))
    found = offset_checks.duplicates(store, plan_of(chunk(10, 19)))
    assert found == {"repeated_in_a_file": 1, "outside_file_range": 1}


def test_missing_offsets_in_or_before_a_run_file_are_holes_unless_the_plan_records_them(
    tmp_path,
):
    store = OutputStore(str(tmp_path))
    write(store, list(range(0, 10)))
    path = "buffer_meta/lib.server.game/000/00000000000000000013-00000000000000000021.parquet"
    store.write_parquet(path, buffer_meta(list(range(13, 20))))  # 20 and 21 missing
    plan = plan_of(chunk(13, 21))
    assert offset_checks.holes(store, plan) == {"lib.server.game[0]": 2 + 3}  # and 10-12
    assert offset_checks.holes(store, plan_of(chunk(13, 21), gap=(10, 12))) == {
        "lib.server.game[0]": 2
    }


# With Kafka's answer: offsets holding no record (transaction markers, aborted records).
def served_without(*no_record: int, readable_from: int = 0):
    """What Kafka serves: a record at every offset but no_record, none below readable_from."""

    def served(span: Chunk) -> ServedRange:
        readable = max(span.first, readable_from)
        offsets = np.setdiff1d(np.arange(readable, span.last + 1), no_record)
        return ServedRange(span, readable, offsets)

    return served


def write_chunk(store, first, last, offsets):
    path = f"buffer_meta/lib.server.game/000/{first:020d}-{last:020d}.parquet"
    store.write_parquet(path, buffer_meta(offsets))


def test_offsets_kafka_serves_no_record_at_are_not_holes(tmp_path):
    store = OutputStore(str(tmp_path))
    write(store, list(range(0, 10)))
    write_chunk(store, 10, 19, [*range(10, 15), 16, 17, 18])  # 15 and 19: markers
    plan = plan_of(chunk(10, 19))
    report = offset_checks.contiguity(store, plan, served_without(15, 19))
    assert report.passed and not report.unverifiable
    assert (report.offsets_without_record, report.ranges_compared) == (2, 1)
    # Where Kafka does serve a record, its absence is a hole.
    report = offset_checks.contiguity(store, plan, served_without(19))
    assert not report.passed
    assert report.holes == {"lib.server.game[0]": 1}


def test_a_row_where_kafka_serves_no_record_fails(tmp_path):
    store = OutputStore(str(tmp_path))
    write_chunk(store, 10, 19, list(range(10, 18)))  # 17: an aborted record, loaded
    report = offset_checks.contiguity(store, plan_of(chunk(10, 19)), served_without(17, 18, 19))
    assert not report.passed
    assert report.not_served == {"lib.server.game[0]": 1}
    assert report.holes == {}


def test_a_file_holding_every_offset_costs_no_kafka_read(tmp_path):
    store = OutputStore(str(tmp_path))
    write_chunk(store, 10, 19, list(range(10, 20)))

    def no_kafka(span):
        raise AssertionError(f"read {span} from Kafka")

    assert offset_checks.contiguity(store, plan_of(chunk(10, 19)), no_kafka).passed


def test_offsets_retention_removed_before_the_check_are_unverifiable_not_holes(tmp_path):
    store = OutputStore(str(tmp_path))
    write_chunk(store, 10, 19, [10, 11, *range(15, 20)])  # 12-14 can no longer be compared
    served = served_without(readable_from=15)
    report = offset_checks.contiguity(store, plan_of(chunk(10, 19)), served)
    assert report.passed
    assert report.unverifiable == {"lib.server.game[0]": [[10, 14]]}
    assert report.holes == {}


@pytest.mark.parametrize("kafka_has_records", [False, True])
def test_the_space_an_earlier_run_left_before_a_run_file_is_compared_with_kafka(
    tmp_path, kafka_has_records
):
    # An earlier run's chunk 10-13 held only an aborted transaction: it wrote no file.
    store = OutputStore(str(tmp_path))
    write(store, list(range(0, 10)))
    write(store, list(range(14, 20)))
    served = served_without() if kafka_has_records else served_without(10, 11, 12, 13)
    report = offset_checks.contiguity(store, plan_of(chunk(14, 19)), served)
    assert report.passed is not kafka_has_records
    assert report.holes == ({"lib.server.game[0]": 4} if kafka_has_records else {})
    assert report.offsets_without_record == (0 if kafka_has_records else 4)
