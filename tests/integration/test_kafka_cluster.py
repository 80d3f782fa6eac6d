"""`superhero stack up --brokers 3`: a three-node KRaft cluster whose topics lose nothing
acknowledged when a partition's leader is killed."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import threading
import time
from contextlib import closing

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource

from superhero_tools.settings import Settings
from superhero_tools.stack import kafka, procs
from superhero_tools.stack.topics import ensure_topics
from tests.support.elt_env import EltEnv
from tests.support.stack import superhero

pytestmark = pytest.mark.integration


def free_block(width: int = 6) -> int:
    """A port whose next width-1 ports are free too: three nodes' broker and controller."""
    for _ in range(100):
        with closing(socket.socket()) as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + width >= 65535:
            continue
        try:
            for port in range(base, base + width):
                with closing(socket.socket()) as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise AssertionError("no block of free ports")


class Cluster:
    def __init__(self, state_dir: str) -> None:
        base = free_block()
        self.env = {
            "SUPERHERO_STATE_DIR": state_dir,
            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{base}",
            "KAFKA_CONTROLLER_PORT": str(base + 1),
            "KAFKA_HEAP_OPTS": "-Xms128m -Xmx384m",
            "SUPERHERO_KAFKA_BROKERS": "3",
        }
        self.settings = Settings.from_env(self.env)
        self.bootstrap = self.settings.kafka_cluster_bootstrap

    def up(self):
        return superhero("stack", "up", "--only", "kafka", env=self.env, timeout=600)

    def pid(self, node: int) -> int:
        record = procs.read_record(self.settings.state_dir, kafka.node_service(node))
        assert record is not None and record.is_running(), node
        return record.pid

    def partition(self, topic: str, partition: int):
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        return admin.list_topics(topic, timeout=10).topics[topic].partitions[partition]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = Cluster(str(tmp_path_factory.mktemp("cluster")))
    started = cluster.up()
    assert started.returncode == 0, started.stdout + started.stderr
    yield cluster
    superhero("stack", "down", "--purge", env=cluster.env)


def test_three_nodes_serve_the_game_topics_with_three_copies_two_in_sync(cluster):
    status = superhero("stack", "status", "--only", "kafka", env=cluster.env)
    assert status.returncode == 0, status.stdout + status.stderr
    nodes = [line for line in status.stdout.splitlines() if line.startswith("kafka")]
    assert len(nodes) == 3 and all("healthy" in line for line in nodes), status.stdout
    leaders = [line for line in status.stdout.splitlines() if "leader=" in line]
    assert len(leaders) == 6, status.stdout  # lobby's 2 partitions and game's 4
    assert all("replicas=3 isr=1,2,3" in line for line in leaders), status.stdout
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    resource = ConfigResource(ConfigResource.Type.TOPIC, "lib.server.game")
    configs = admin.describe_configs([resource])[resource].result(timeout=10)
    assert configs["min.insync.replicas"].value == "2"
    assert configs["unclean.leader.election.enable"].value == "false"


def test_killing_a_partitions_leader_loses_no_acknowledged_message(cluster):
    topic = f"cluster.kill.{time.time_ns()}"
    ensure_topics(cluster.bootstrap, {topic: 2})
    assert len(cluster.partition(topic, 0).replicas) == 3
    acked: list[bytes] = []

    def on_delivery(err, msg):
        if err is None:
            acked.append(msg.value())

    producer = Producer(
        {
            "bootstrap.servers": cluster.bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "message.timeout.ms": 120_000,
        }
    )

    def produce() -> None:
        """A steady stream, so that writes are in flight when the leader dies."""
        for i in range(600):
            producer.produce(topic, value=f"m{i}".encode(), partition=0, on_delivery=on_delivery)
            producer.poll(0)
            time.sleep(0.005)

    leader = cluster.partition(topic, 0).leader
    writer = threading.Thread(target=produce)
    writer.start()
    while len(acked) < 150 and writer.is_alive():
        time.sleep(0.01)
    os.kill(cluster.pid(leader), signal.SIGKILL)
    writer.join()
    assert producer.flush(120) == 0  # a new leader takes over; min.insync.replicas=2 holds
    assert len(acked) == 600
    consumer = Consumer(
        {"bootstrap.servers": cluster.bootstrap, "group.id": "t", "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(topic, 0, 0)])
    read: list[bytes] = []
    deadline = time.monotonic() + 60
    while len(read) < 600 and time.monotonic() < deadline:
        msg = consumer.poll(1)
        if msg is not None and not msg.error():
            read.append(msg.value())
    consumer.close()
    assert read == [f"m{i}".encode() for i in range(600)]  # each once, in order
    assert cluster.partition(topic, 0).leader != leader
    # The stack command restarts the dead node, which catches up into the in-sync set.
    restarted = cluster.up()
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    deadline = time.monotonic() + 120
    while len(cluster.partition(topic, 0).isrs) < 3 and time.monotonic() < deadline:
        time.sleep(1)
    assert sorted(cluster.partition(topic, 0).isrs) == [1, 2, 3]


def test_a_load_rides_out_a_leader_killed_mid_run_and_everything_lands_once(
    cluster, stack, tmp_path
):
    """The loader on the cluster: the leader of a partition it reads is SIGKILLed while it
    runs. The run rides it out or stops with one clear line; the next run completes, and
    every acknowledged message is in the tables exactly once."""
    on_cluster = dataclasses.replace(stack, kafka_bootstrap_servers=cluster.bootstrap)
    elt = EltEnv.create(on_cluster, tmp_path / "data")
    expected = elt.produce_matches(2000)
    leader = cluster.partition(elt.game, 0).leader
    argv, env = elt.cli_load_command(chunk_messages=200, lock_ttl=5)
    load = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while not list(elt.output.glob("*/**/*.parquet")) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(cluster.pid(leader), signal.SIGKILL)
    running_when_killed = load.poll() is None  # still running after it: running at it
    out, err = load.communicate(timeout=300)
    assert running_when_killed, "the load ended before the leader was killed: give it more"
    if load.returncode != 0:
        last = err.strip().splitlines()[-1]
        assert last.startswith("error:") and "Traceback" not in err, err
        time.sleep(6)  # its locks expire
    rerun = elt.cli_load(lock_ttl=5)
    assert rerun.returncode == 0, rerun.stderr
    elt.assert_exactly_once(expected["messages"])
    assert elt.table("lib_server_lobby").num_rows == expected["lobby"]
    assert elt.table("lib_server_game").num_rows == expected["game"]
    restarted = cluster.up()
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
