"""The local KRaft Kafka: one node, or a cluster of several on this machine (each node a
broker and a controller in one JVM, its own ports, folder and PID record), and its probes."""

from __future__ import annotations

import base64
import json
import subprocess
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from superhero_assets.core.contract import PROBE_TOPIC
from superhero_tools.settings import Settings
from superhero_tools.stack import StackError, procs
from superhero_tools.stack.prereqs import check_java, resolve_kafka_jars

LOG4J_CONFIG = Path(__file__).with_name("log4j2.properties")


def node_service(node: int) -> str:
    """The stack's name for a node: `kafka` for the first (as with one broker), then kafka-2..."""
    return "kafka" if node == 1 else f"kafka-{node}"


def node_home(settings: Settings, node: int) -> Path:
    return settings.state_dir / node_service(node)


def replication(brokers: int) -> tuple[int, int]:
    """(replication factor, min.insync.replicas) for a cluster of that many brokers: three
    copies and two in sync once there are three brokers, so one node may be lost."""
    factor = min(3, brokers)
    return factor, max(1, factor - 1)


def server_properties(settings: Settings, node: int, data_dir: Path) -> str:
    host = settings.kafka_host
    port, ctrl = settings.kafka_node_ports(node)
    voters = ",".join(f"{n}@{host}:{settings.kafka_node_ports(n)[1]}" for n in settings.kafka_nodes)
    factor, min_isr = replication(settings.kafka_brokers)
    return "\n".join(
        [
            "# Written by `superhero stack up`; edits are overwritten on the next start.",
            "process.roles=broker,controller",
            f"node.id={node}",
            f"controller.quorum.voters={voters}",
            f"listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{ctrl}",
            f"advertised.listeners=PLAINTEXT://{host}:{port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            f"log.dirs={data_dir}",
            # The stack creates its topics explicitly, as the original system did.
            "auto.create.topics.enable=false",
            "num.partitions=1",
            f"default.replication.factor={factor}",
            f"min.insync.replicas={min_isr}",
            # A replica that missed acknowledged writes never becomes leader.
            "unclean.leader.election.enable=false",
            f"offsets.topic.replication.factor={factor}",
            "offsets.topic.num.partitions=4",
            f"transaction.state.log.replication.factor={factor}",
            f"transaction.state.log.min.isr={min_isr}",
            f"share.coordinator.state.topic.replication.factor={factor}",
            f"share.coordinator.state.topic.min.isr={min_isr}",
            "group.initial.rebalance.delay.ms=0",
            # Room for the odd 1 MB log record (the default limit is just under 1 MiB).
            "message.max.bytes=4194304",
            "replica.fetch.max.bytes=4194304",
            "",
        ]
    )


def cluster_id() -> str:
    """A random KRaft cluster id: 16 bytes, base64url, never starting with '-'.

    Like Kafka's own Uuid.randomUuid: an id such as "-Xy..." would be read by the storage
    tool's argument parser as an option (1 format in 64 failed that way).
    """
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cid.startswith("-"):
            return cid


def _java_argv(settings: Settings, java: str, jars: Path, main: str, *args: str) -> list[str]:
    return [
        java,
        *settings.kafka_heap_opts.split(),
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
        # Marks the JVM as this stack's, for anyone reading `ps`.
        f"-Dsuperhero.state.dir={settings.state_dir}",
        "-cp",
        f"{jars}/*",
        main,
        *args,
    ]


CLUSTER_FILE = "cluster.json"


def cluster_of(settings: Settings) -> str:
    """The cluster id every node is formatted with, recorded beside the first node with the
    number of nodes; a state folder formatted for another number of nodes is refused."""
    record = node_home(settings, 1) / CLUSTER_FILE
    formatted = (node_home(settings, 1) / "data" / "meta.properties").exists()
    if record.exists():
        known = json.loads(record.read_text())
    elif formatted:  # formatted before clusters existed: one node
        meta = (node_home(settings, 1) / "data" / "meta.properties").read_text()
        cid = next(
            line.split("=", 1)[1] for line in meta.splitlines() if line.startswith("cluster.id=")
        )
        known = {"cluster_id": cid.strip(), "brokers": 1}
    else:
        known = {"cluster_id": cluster_id(), "brokers": settings.kafka_brokers}
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps(known))
    if known["brokers"] != settings.kafka_brokers:
        raise StackError(
            f"The Kafka in {settings.state_dir} was formatted as {known['brokers']} node(s), "
            f"not {settings.kafka_brokers}: start it with --brokers {known['brokers']}, or "
            "delete its data first with `superhero stack down --purge`, or use another "
            "SUPERHERO_STATE_DIR."
        )
    return str(known["cluster_id"])


def start(settings: Settings, node: int = 1) -> procs.ProcessRecord:
    """Format the node's storage on first start, then launch kafka.Kafka in the background."""
    java = check_java()
    jars = resolve_kafka_jars(settings.kafka_jars_dir, settings.kafka_version)
    cid = cluster_of(settings)
    home = node_home(settings, node)
    data_dir = home / "data"
    config = home / "server.properties"
    home.mkdir(parents=True, exist_ok=True)
    config.write_text(server_properties(settings, node, data_dir))
    if not (data_dir / "meta.properties").exists():
        argv = _java_argv(
            settings,
            java,
            jars,
            "kafka.tools.StorageTool",
            "format",
            f"--cluster-id={cid}",
            "-c",
            str(config),
        )
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise StackError(
                f"Formatting Kafka's storage in {data_dir} failed:\n"
                f"{(result.stdout + result.stderr)[-2000:]}"
            )
    argv = _java_argv(settings, java, jars, "kafka.Kafka", str(config))
    return procs.spawn(
        settings.state_dir, node_service(node), argv, settings.kafka_node_address(node)
    )


def _client_config(settings: Settings) -> dict[str, object]:
    return {
        "bootstrap.servers": settings.kafka_cluster_bootstrap,
        "socket.timeout.ms": 5000,
        "client.id": "superhero-stack",
    }


def answers_as_kafka(settings: Settings, timeout_s: float = 3.0, node: int | None = None) -> bool:
    """A Kafka broker answers a metadata request at the configured address (or node's)."""
    config = _client_config(settings)
    if node is not None:
        config["bootstrap.servers"] = settings.kafka_node_address(node)
    admin = AdminClient({**config, "logger": _quiet_logger()})
    try:
        admin.list_topics(timeout=timeout_s)
        return True
    except KafkaException:
        return False


def brokers_in_metadata(settings: Settings, timeout_s: float = 3.0) -> set[int]:
    """The node ids the cluster's metadata lists as live brokers."""
    admin = AdminClient({**_client_config(settings), "logger": _quiet_logger()})
    return set(admin.list_topics(timeout=timeout_s).brokers)


def leaders(settings: Settings, topics: list[str], timeout_s: float = 5.0) -> list[str]:
    """One line per partition of topics: its leader and in-sync replicas (`stack status`)."""
    admin = AdminClient({**_client_config(settings), "logger": _quiet_logger()})
    found = admin.list_topics(timeout=timeout_s).topics
    lines = []
    for topic in topics:
        if topic not in found:
            continue
        for p in sorted(found[topic].partitions.values(), key=lambda p: p.id):
            isr = ",".join(str(r) for r in sorted(p.isrs))
            lines.append(f"{topic}[{p.id}] leader={p.leader} replicas={len(p.replicas)} isr={isr}")
    return lines


def round_trip(settings: Settings, topic: str = PROBE_TOPIC, timeout_s: float = 10.0) -> int:
    """Produce one message to partition 0 of topic and read it back; returns its offset."""
    token = uuid.uuid4().hex.encode()
    delivered: list[object] = []
    producer = Producer(
        {
            **_client_config(settings),
            "message.timeout.ms": int(timeout_s * 1000),
            "logger": _quiet_logger(),
        }
    )
    producer.produce(
        topic, value=token, partition=0, on_delivery=lambda err, msg: delivered.append(err or msg)
    )
    producer.flush(timeout_s)
    if not delivered or not hasattr(delivered[0], "offset"):
        raise StackError(
            f"Kafka did not accept a probe message on {topic}: {delivered or 'timeout'}"
        )
    offset = delivered[0].offset()
    consumer = Consumer(
        {
            **_client_config(settings),
            "group.id": "superhero-stack-probe",
            "enable.auto.commit": False,
            "logger": _quiet_logger(),
        }
    )
    try:
        consumer.assign([TopicPartition(topic, 0, offset)])
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and not msg.error() and msg.value() == token:
                return offset
    finally:
        consumer.close()
    raise StackError(f"Kafka accepted a probe message on {topic} but it could not be read back")


def _quiet_logger():
    """librdkafka logs every refused connection; readiness polling expects refusals."""
    import logging

    logger = logging.getLogger("superhero.stack.librdkafka")
    logger.setLevel(logging.CRITICAL)
    return logger
