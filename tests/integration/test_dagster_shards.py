"""The ELT partitioned by shard in Dagster (SUPERHERO_SHARDS=3), against the real stack."""

import dagster as dg
import pytest
from confluent_kafka import Producer

from superhero_assets.core.run import locks
from tests.support import wire
from tests.support.lag_sensor import evaluate

pytestmark = pytest.mark.integration


def test_the_lag_sensor_asks_only_for_the_shards_that_lag(elt):
    producer = Producer({"bootstrap.servers": elt.stack.kafka_bootstrap_servers})
    for _ in range(12):  # game partition 1 only: shard 2 of 3
        producer.produce(elt.game, value=wire.attack("g", "a", "b", 1, 2, 1), partition=1)
    assert producer.flush(30) == 0
    with dg.instance_for_test() as instance:
        result = evaluate(elt, instance, shards=3)
        (request,) = result.run_requests
        assert request.partition_key == "2-of-3" and request.run_key.startswith("2-of-3-lag-")
        # The same offsets give the same key: one tick later, nothing new is asked for.
        again = evaluate(elt, instance, cursor=result.cursor, shards=3)
        assert not again.run_requests
        tokens = locks.acquire_locks(elt.redis(), [(elt.game, 1)], 30_000)
        try:
            held = evaluate(elt, instance, shards=3)
        finally:
            locks.release_locks(elt.redis(), tokens)
    assert not held.run_requests
    assert f"shard 2/3: another run (superhero load, a worker) holds {elt.game}:1" in (
        held.skip_reason.skip_message
    )
