"""The test stack's real Kafka and Redis: topics, partitions, produce/consume, Redis round trip."""

import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from superhero_assets.core.contract import TOPIC_PARTITIONS
from superhero_tools.stack import redis_server
from superhero_tools.stack.topics import ensure_topics, partition_counts
from tests.support.stack import superhero

pytestmark = pytest.mark.integration


def test_topics_have_the_original_partition_counts(stack):
    admin = AdminClient({"bootstrap.servers": stack.kafka_bootstrap_servers})
    assert partition_counts(admin, list(TOPIC_PARTITIONS)) == TOPIC_PARTITIONS
    topics = admin.list_topics(timeout=10).topics
    for name in TOPIC_PARTITIONS:
        assert all(len(p.replicas) == 1 for p in topics[name].partitions.values())


@pytest.mark.parametrize("topic", list(TOPIC_PARTITIONS))
def test_produce_and_consume_on_every_partition(stack, topic):
    producer = Producer({"bootstrap.servers": stack.kafka_bootstrap_servers, "acks": "all"})
    run = uuid.uuid4().hex
    offsets = {}

    def delivered(err, msg):
        assert err is None, err
        offsets[msg.partition()] = msg.offset()

    for partition in range(TOPIC_PARTITIONS[topic]):
        producer.produce(
            topic, value=f"{run}:{partition}".encode(), partition=partition, on_delivery=delivered
        )
    assert producer.flush(15) == 0
    assert sorted(offsets) == list(range(TOPIC_PARTITIONS[topic]))

    consumer = Consumer(
        {
            "bootstrap.servers": stack.kafka_bootstrap_servers,
            "group.id": f"test-{run}",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(topic, p, o) for p, o in offsets.items()])
    seen = {}
    for _ in range(60):
        for msg in consumer.consume(num_messages=100, timeout=0.5):
            assert msg.error() is None
            if msg.value().decode().startswith(run):
                seen[msg.partition()] = msg.value().decode()
        if len(seen) == len(offsets):
            break
    consumer.close()
    assert seen == {p: f"{run}:{p}" for p in offsets}


def test_an_existing_topic_with_fewer_partitions_is_grown(stack):
    name = f"superhero.test.grow.{uuid.uuid4().hex[:8]}"
    assert ensure_topics(stack.kafka_bootstrap_servers, {name: 1}) == {name: 1}
    assert ensure_topics(stack.kafka_bootstrap_servers, {name: 3}) == {name: 3}
    # Asking for fewer never shrinks (Kafka cannot) and is not an error.
    assert ensure_topics(stack.kafka_bootstrap_servers, {name: 2}) == {name: 3}
    AdminClient({"bootstrap.servers": stack.kafka_bootstrap_servers}).delete_topics([name])


def test_redis_round_trip(stack):
    r = redis_server.client(stack)
    key, value = f"superhero.test.{uuid.uuid4().hex}", uuid.uuid4().hex
    assert r.set(key, value, ex=30)
    assert r.get(key) == value.encode()
    assert r.delete(key) == 1


def test_status_reports_both_services_healthy(stack):
    result = superhero("stack", "status")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(
        line.startswith("redis") and f":{stack.redis_port}" in line and "healthy" in line
        for line in lines
    )
    assert any(
        line.startswith("kafka") and stack.kafka_bootstrap_servers in line and "healthy" in line
        for line in lines
    )


def test_up_again_is_harmless(stack):
    before = superhero("stack", "status").stdout
    result = superhero("stack", "up")
    assert result.returncode == 0, result.stderr
    assert "started" not in result.stdout
    assert superhero("stack", "status").stdout == before
