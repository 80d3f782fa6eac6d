"""A single-node KRaft Kafka (broker and controller in one JVM), plus its readiness probe."""

from __future__ import annotations

import base64
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


def server_properties(settings: Settings, data_dir: Path) -> str:
    host, port, ctrl = settings.kafka_host, settings.kafka_port, settings.kafka_controller_port
    return "\n".join(
        [
            "# Written by `superhero stack up`; edits are overwritten on the next start.",
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@{host}:{ctrl}",
            f"listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{ctrl}",
            f"advertised.listeners=PLAINTEXT://{host}:{port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            f"log.dirs={data_dir}",
            # The stack creates its topics explicitly, as the original system did.
            "auto.create.topics.enable=false",
            "num.partitions=1",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=4",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
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


def start(settings: Settings) -> procs.ProcessRecord:
    """Format the storage on first start, then launch kafka.Kafka in the background."""
    java = check_java()
    jars = resolve_kafka_jars(settings.kafka_jars_dir, settings.kafka_version)
    home = settings.state_dir / "kafka"
    data_dir = home / "data"
    config = home / "server.properties"
    home.mkdir(parents=True, exist_ok=True)
    config.write_text(server_properties(settings, data_dir))
    if not (data_dir / "meta.properties").exists():
        argv = _java_argv(
            settings,
            java,
            jars,
            "kafka.tools.StorageTool",
            "format",
            f"--cluster-id={cluster_id()}",
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
    return procs.spawn(settings.state_dir, "kafka", argv, settings.kafka_bootstrap_servers)


def _client_config(settings: Settings) -> dict[str, object]:
    return {
        "bootstrap.servers": settings.kafka_bootstrap_servers,
        "socket.timeout.ms": 5000,
        "client.id": "superhero-stack",
    }


def answers_as_kafka(settings: Settings, timeout_s: float = 3.0) -> bool:
    """A Kafka broker answers a metadata request at the configured address."""
    admin = AdminClient({**_client_config(settings), "logger": _quiet_logger()})
    try:
        admin.list_topics(timeout=timeout_s)
        return True
    except KafkaException:
        return False


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
