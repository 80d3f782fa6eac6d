"""Transactional topics through `dagster asset materialize`: committed, aborted and open
transactions beside plain messages load exactly once, and every check passes.

A transaction's markers occupy offsets but carry no message, and an aborted transaction's
records are never served read_committed; the contiguity check must accept both. An open
transaction holds back the last stable offset, which the plan stops at, so its records
load in a later run, once it is committed.
"""

import json
import os
import re

import dagster as dg
import pyarrow.compute as pc
import pytest
import redis
from confluent_kafka import Consumer, Producer, TopicPartition

from superhero_assets.assets.checks import ALL_CHECKS
from superhero_assets.core import contract
from tests.support import wire
from tests.support.dagster_cli import materialize

pytestmark = pytest.mark.integration

GAME_PARTITIONS = 4
OPEN_PARTITIONS = (0, 1)  # the open transaction writes here; 2 and 3 are loaded to the end


def attacks(label: str, n: int) -> list[bytes]:
    return [wire.attack(f"{label}-{i}", "a", "b", 3, 9, 6) for i in range(n)]


def produce_in_transaction(producer: Producer, topic: str, values: list[bytes]) -> None:
    producer.begin_transaction()
    for i, value in enumerate(values):
        producer.produce(topic, value, partition=i % GAME_PARTITIONS)
    producer.flush(30)  # on the broker before the end: an abort leaves records and markers


def tokens(label: str, n: int) -> set[str]:
    return {f"{label}-{i}" for i in range(n)}


def loaded_games(elt) -> list[str]:
    """The game token of every attack in raw_messages, once per row."""
    raw = elt.table("raw_messages")
    values = raw.filter(pc.equal(raw["topic"], elt.game))["value"].to_pylist()
    return sorted(json.loads(json.loads(v)["task"])["PAYLOAD"]["GAME_TOKEN"] for v in values)


def stable_and_high(bootstrap: str, topic: str) -> dict[int, tuple[int, int]]:
    """{partition: (last stable offset, high watermark)}: what read_committed and
    read_uncommitted consumers see as the end of each partition."""
    ends = {}
    for level in ("read_committed", "read_uncommitted"):
        consumer = Consumer(
            {"bootstrap.servers": bootstrap, "group.id": "t", "isolation.level": level}
        )
        for p in range(GAME_PARTITIONS):
            _, end = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            ends.setdefault(p, []).append(end)
        consumer.close()
    return {p: (stable, high) for p, (stable, high) in ends.items()}


def assert_every_check_passed(stderr: str) -> None:
    for check in ALL_CHECKS:
        for key in check.check_keys:
            assert re.search(rf"Asset check '{key.name}' on '\w+' passed", stderr), key.name


def contiguity_metadata(dagster_home: str) -> dict:
    """What the last evaluation of buffer_meta's offsets_contiguous check recorded."""
    instance = dg.DagsterInstance.from_config(dagster_home)
    key = dg.AssetCheckKey(dg.AssetKey("buffer_meta"), "offsets_contiguous")
    record = instance.get_latest_asset_check_evaluation_record(key)
    evaluation = record.event.dagster_event.event_specific_data
    return {name: value.value for name, value in evaluation.metadata.items()}


def test_transactions_load_exactly_once_through_dagster(elt, tmp_path):
    bootstrap = elt.stack.kafka_bootstrap_servers
    elt.produce(elt.game, attacks("plain", 8), GAME_PARTITIONS)
    elt.produce(elt.lobby, [wire.cleaning("g", "u")] * 4, 2)
    txn = Producer(
        {
            "bootstrap.servers": bootstrap,
            "transactional.id": f"{elt.game}-producer",
            # Open across a whole materialization: the 60 s default would have it aborted.
            "transaction.timeout.ms": 600_000,
        }
    )
    txn.init_transactions(30)
    produce_in_transaction(txn, elt.game, attacks("committed", 8))
    txn.commit_transaction(30)
    produce_in_transaction(txn, elt.game, attacks("aborted", 8))
    txn.abort_transaction(30)
    produce_in_transaction(txn, elt.game, attacks("open", len(OPEN_PARTITIONS)))
    # Plain messages behind the open transaction wait for it on its partitions.
    elt.produce(elt.game, attacks("after", 4), GAME_PARTITIONS)

    r = redis.Redis(host=elt.stack.redis_host, port=elt.stack.redis_port, db=0)
    env = {
        **os.environ,
        "OUTPUT_FS": str(elt.output),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "REDIS_HOST": elt.stack.redis_host,
        "REDIS_PORT": str(elt.stack.redis_port),
        "REDIS_DB": "0",
        "SUPERHERO_TOPICS": ",".join(elt.topics),
    }
    os.makedirs(env["DAGSTER_HOME"])

    first = materialize(env)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "RUN_SUCCESS" in first.stderr
    assert_every_check_passed(first.stderr)
    behind_open = {f"after-{p}" for p in OPEN_PARTITIONS}
    loaded = tokens("plain", 8) | tokens("committed", 8) | (tokens("after", 4) - behind_open)
    assert loaded_games(elt) == sorted(loaded)
    assert_buffer_meta_matches_raw(elt)
    # Each game partition: a commit marker, two aborted records and an abort marker, all
    # in its one chunk, which alone was compared with Kafka.
    checked = contiguity_metadata(env["DAGSTER_HOME"])
    assert checked["offsets_without_record"] == 4 * GAME_PARTITIONS
    assert checked["ranges_compared_with_kafka"] == GAME_PARTITIONS
    assert checked["holes"] == checked["unverifiable"] == {}

    # The plan stopped at the last stable offset: before the open transaction on its
    # partitions, at the end of the others; Redis holds exactly that.
    ends = stable_and_high(bootstrap, elt.game)
    last = json.loads(r.get(contract.last_offset_key(elt.game)))
    for p, (stable, high) in ends.items():
        assert last[str(p)] == stable - 1
        assert (stable < high) == (p in OPEN_PARTITIONS)

    txn.commit_transaction(30)
    second = materialize(env)
    assert second.returncode == 0, second.stderr[-3000:]
    assert_every_check_passed(second.stderr)
    loaded |= behind_open | tokens("open", len(OPEN_PARTITIONS))
    assert loaded_games(elt) == sorted(loaded)
    assert_buffer_meta_matches_raw(elt)
    checked = contiguity_metadata(env["DAGSTER_HOME"])  # the commit markers alone
    assert checked["offsets_without_record"] == len(OPEN_PARTITIONS)
    assert checked["ranges_compared_with_kafka"] == len(OPEN_PARTITIONS)
    last = json.loads(r.get(contract.last_offset_key(elt.game)))
    for p, (stable, high) in stable_and_high(bootstrap, elt.game).items():
        assert stable == high
        assert last[str(p)] == high - 1


def assert_buffer_meta_matches_raw(elt) -> None:
    """buffer_meta holds each loaded message once, and only those raw_messages holds."""
    meta = elt.table("buffer_meta")
    raw = elt.table("raw_messages")
    raw_ids = pc.binary_join_element_wise(
        raw["topic"], raw["partition"].cast("string"), raw["offset"].cast("string"), ":"
    )
    assert meta.num_rows == raw.num_rows
    assert pc.count_distinct(meta["msg_id"]).as_py() == meta.num_rows
    assert sorted(meta["msg_id"].to_pylist()) == sorted(raw_ids.to_pylist())
