"""The contiguity check against the real stack: transaction markers and aborted records are
offsets without a record, checked with Kafka; a record missing from a file is still a hole."""

from collections.abc import Callable

import dagster as dg
import pyarrow.compute as pc
import pytest
from confluent_kafka import Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from superhero_assets.assets.checks import contiguity_result
from superhero_assets.core.kafka.served_offsets import KafkaOffsets
from superhero_assets.core.quality import offset_checks, table_checks
from superhero_assets.core.run.plan import Chunk, Plan
from tests.support import wire

pytestmark = pytest.mark.integration

PARTITIONS = 4
CHUNK = 4  # per partition: plain 0-1, committed 2-3 (chunk 1), marker 4, aborted 5-6, marker 7


def produce_transactions(elt) -> None:
    elt.produce(elt.game, [wire.attack("plain", "a", "b", 3, 9, 6)] * 2 * PARTITIONS, PARTITIONS)
    txn = Producer(
        {"bootstrap.servers": elt.stack.kafka_bootstrap_servers, "transactional.id": elt.game}
    )
    txn.init_transactions(30)
    for end in (txn.commit_transaction, txn.abort_transaction):
        txn.begin_transaction()
        for i in range(2 * PARTITIONS):
            txn.produce(elt.game, wire.attack("txn", "a", "b", 3, 9, 6), partition=i % PARTITIONS)
        txn.flush(30)  # on the broker before the end: an abort leaves records and markers
        end(30)


def land(elt) -> tuple[Plan, Callable[[], object]]:
    """Load without committing; returns the plan and the commit."""
    loader = elt.loader(chunk_messages=CHUNK)
    pending = loader.prepare(run_id="contiguity")
    loader.land(pending)
    return pending.plan, lambda: loader.commit(pending)


def kafka(elt) -> KafkaOffsets:
    return KafkaOffsets({"bootstrap.servers": elt.stack.kafka_bootstrap_servers}, elt.topics)


def test_markers_and_aborted_records_are_offsets_without_record(elt):
    produce_transactions(elt)
    plan, commit = land(elt)
    # Counting every offset as a record, as the check did, each partition lacks 4: two
    # markers and two aborted records (the second chunk holds only those: no file).
    assert offset_checks.holes(elt.store(), plan) == {
        f"{elt.game}[{p}]": 4 for p in range(PARTITIONS)
    }
    with kafka(elt) as served:
        report = offset_checks.contiguity(elt.store(), plan, served)
    assert report.passed and not report.unverifiable, report
    assert report.offsets_without_record == 4 * PARTITIONS
    assert report.ranges_compared == PARTITIONS  # the full first chunks cost no Kafka read
    commit()

    # The next run's files start after the space the fileless chunks left: Kafka explains it.
    elt.produce(elt.game, [wire.attack("later", "a", "b", 3, 9, 6)] * PARTITIONS, PARTITIONS)
    later, _ = land(elt)
    assert [(c.first, c.last) for c in later.chunks if c.topic == elt.game] == [(8, 8)] * 4
    with kafka(elt) as served:
        report = offset_checks.contiguity(elt.store(), later, served)
    assert report.passed and not report.unverifiable, report
    assert report.offsets_without_record == 4 * PARTITIONS
    assert report.ranges_compared == PARTITIONS


def test_a_record_deleted_from_a_file_is_still_a_hole(elt):
    produce_transactions(elt)
    plan, _ = land(elt)
    store = elt.store()
    chunk = Chunk(elt.game, 0, 0, CHUNK - 1)
    assert chunk in plan.chunks
    (path,) = table_checks.chunk_file(store, chunk, "buffer_meta")
    table = table_checks.read_tables(store, [path])
    store.write_parquet(path, table.filter(pc.not_equal(table["offset"], 2)))  # committed
    with kafka(elt) as served:
        report = offset_checks.contiguity(store, plan, served)
    assert not report.passed
    assert report.holes == {f"{elt.game}[0]": 1}
    assert report.not_served == {}
    result = contiguity_result(report)
    assert not result.passed
    assert result.severity == dg.AssetCheckSeverity.ERROR  # blocks the commit


def test_a_range_retention_removed_is_unverifiable_not_guessed(elt):
    produce_transactions(elt)
    plan, _ = land(elt)
    store = elt.store()
    chunk = Chunk(elt.game, 0, 0, CHUNK - 1)
    (path,) = table_checks.chunk_file(store, chunk, "buffer_meta")
    table = table_checks.read_tables(store, [path])
    store.write_parquet(path, table.filter(pc.not_equal(table["offset"], 2)))
    # Retention takes partition 0 up to offset 6 before the check: the first chunk and
    # offsets 4-5 can no longer be compared, whatever the file holds.
    admin = AdminClient({"bootstrap.servers": elt.stack.kafka_bootstrap_servers})
    (done,) = admin.delete_records([TopicPartition(elt.game, 0, 6)]).values()
    done.result(30)
    with kafka(elt) as served:
        report = offset_checks.contiguity(store, plan, served)
    assert report.unverifiable == {f"{elt.game}[0]": [[0, 3], [4, 5]]}
    assert report.holes == report.not_served == {}
    assert report.offsets_without_record == 2 + 4 * (PARTITIONS - 1)  # 6 aborted, 7 marker
    # Not a pass, but a warning: the blocking check lets the commit go on.
    result = contiguity_result(report)
    assert not result.passed
    assert result.severity == dg.AssetCheckSeverity.WARN
