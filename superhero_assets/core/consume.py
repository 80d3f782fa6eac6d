"""Read planned chunks from Kafka in bounded batches, as Arrow tables of raw messages."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator

import pyarrow as pa
from confluent_kafka import Consumer, KafkaException, TopicPartition

from superhero_assets.core import contract
from superhero_assets.core.plan import Chunk


class ConsumeError(RuntimeError):
    """Kafka stopped serving the planned offsets; the message says what was missing."""


def client_logger() -> logging.Logger:
    """librdkafka retries a refused connection many times a second and logs each try; our own
    errors say what failed, so its log is quiet unless KAFKA_CLIENT_LOG_LEVEL asks for it."""
    logger = logging.getLogger("superhero.kafka.client")
    logger.setLevel(os.environ.get("KAFKA_CLIENT_LOG_LEVEL", "CRITICAL").upper())
    return logger


def make_consumer(client_config: dict) -> Consumer:
    # Offsets live in Redis, never in Kafka: no group commits, explicit assignment only.
    return Consumer(
        {
            "group.id": "superhero-dataflow-elt",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "error",
            "fetch.max.bytes": 64 * 1024 * 1024,
            "max.partition.fetch.bytes": 16 * 1024 * 1024,
            "queued.max.messages.kbytes": 256 * 1024,
            "logger": client_logger(),
            "fetch.wait.max.ms": 100,
            **client_config,
        }
    )


def watermarks(
    consumer: Consumer, topic: str, timeout_s: float = 15.0
) -> dict[int, tuple[int, int]]:
    """{partition: (low, high)} of every partition of topic, as of now."""
    try:
        meta = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
    except KafkaException as exc:
        raise ConsumeError(
            f"Kafka did not answer a metadata request for {topic} within {timeout_s:.0f}s "
            f"({exc}). Check KAFKA_BOOTSTRAP_SERVERS, or start the stack: `superhero stack up`."
        ) from exc
    if meta is None or meta.error is not None:
        raise ConsumeError(f"topic {topic} is not available: {meta.error if meta else 'missing'}")
    return {
        p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout_s)
        for p in sorted(meta.partitions)
    }


def read_chunk(
    consumer: Consumer, chunk: Chunk, batch_messages: int = 50_000, stall_timeout_s: float = 60.0
) -> Iterator[pa.Table]:
    """Yield the chunk's messages as raw Arrow tables of at most batch_messages rows each."""
    consumer.assign([TopicPartition(chunk.topic, chunk.partition, chunk.first)])
    try:
        position, idle_since = chunk.first, time.monotonic()
        while position <= chunk.last:
            want = min(batch_messages, chunk.last - position + 1)
            messages = consumer.consume(num_messages=want, timeout=1.0)
            batch = []
            for msg in messages:
                if msg.error():
                    raise ConsumeError(f"{chunk.topic}[{chunk.partition}]: {msg.error()}")
                if msg.offset() <= chunk.last:
                    batch.append(msg)
            if batch:
                position = batch[-1].offset() + 1
                idle_since = time.monotonic()
                yield to_arrow(batch, chunk.topic, chunk.partition)
                continue
            # Offsets that hold no message (transaction markers, compaction) still advance
            # the consumer's position, so the position, not the last message, ends the chunk.
            (pos,) = consumer.position([TopicPartition(chunk.topic, chunk.partition)])
            if pos.offset > chunk.last:
                break
            if time.monotonic() - idle_since > stall_timeout_s:
                raise ConsumeError(
                    f"{chunk.topic}[{chunk.partition}] returned nothing past offset {position - 1} "
                    f"for {stall_timeout_s:.0f}s although the plan reaches {chunk.last}. Is the "
                    "broker up? The run can be retried: it will redo the same plan."
                )
    except KafkaException as exc:
        raise ConsumeError(f"Kafka error reading {chunk.stem}: {exc}") from exc


def to_arrow(messages: list, topic: str, partition: int) -> pa.Table:
    """Columns straight from the client's message objects; no parsing happens here."""
    n = len(messages)
    stamps = [m.timestamp() for m in messages]
    headers = [m.headers() for m in messages]
    return pa.Table.from_arrays(
        [
            pa.array([topic] * n, pa.string()),
            pa.array([partition] * n, pa.int32()),
            pa.array([m.offset() for m in messages], pa.int64()),
            pa.array([ts for _, ts in stamps], pa.int64()).cast(contract.TS_MS),
            pa.array([kind for kind, _ in stamps], pa.int8()),
            pa.array([m.key() for m in messages], pa.binary()),
            pa.array(
                [[{"key": k, "value": v} for k, v in h] if h else [] for h in headers],
                contract.RAW_MESSAGES.field("headers").type,
            ),
            pa.array([m.value() for m in messages], pa.binary()),
        ],
        schema=contract.RAW_MESSAGES,
    )
