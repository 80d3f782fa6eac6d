"""Read planned chunks from Kafka in bounded batches, as Arrow tables of raw messages."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Sequence
from itertools import chain

import numpy as np
import pyarrow as pa
from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from superhero_assets.core import contract
from superhero_assets.core.plan import Chunk

LEARN_TIMEOUT_S = 5.0


class ConsumeError(RuntimeError):
    """Kafka stopped serving the planned offsets; the message says what was missing."""


def client_logger() -> logging.Logger:
    """librdkafka retries a refused connection many times a second and logs each try; our own
    errors say what failed, so its log is quiet unless KAFKA_CLIENT_LOG_LEVEL asks for it."""
    logger = logging.getLogger("superhero.kafka.client")
    logger.setLevel(os.environ.get("KAFKA_CLIENT_LOG_LEVEL", "CRITICAL").upper())
    return logger


def consumer_settings(client_config: dict) -> dict:
    """The loader's librdkafka settings around the cluster's own (client_config wins)."""
    # Offsets live in Redis, never in Kafka: no group commits, explicit assignment only.
    return {
        "group.id": "superhero-dataflow-elt",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "error",
        # Read-ahead of the one assigned partition, bounded so that memory follows the
        # batch. The limits count compressed bytes: 4 MB fetches of lz4 batches held
        # 62 MB once decompressed; 1 MB fetches hold 19 MB and read as fast.
        "fetch.max.bytes": 2 * 1024 * 1024,
        "max.partition.fetch.bytes": 1024 * 1024,
        "queued.max.messages.kbytes": 2 * 1024,
        # A run reads one partition at a time and stops at the plan's end; waiting up to
        # 100 ms for a fetch to fill (the old setting) made chunk-by-chunk reading 1.7x
        # slower than reading every partition at once.
        "fetch.wait.max.ms": 10,
        # When the read-ahead is full, fetch again as soon as it drains (librdkafka's
        # default waits a whole second, which starves a small read-ahead).
        "fetch.queue.backoff.ms": 5,
        **client_config,
    }


def make_consumer(client_config: dict) -> Consumer:
    return Consumer({"logger": client_logger(), **consumer_settings(client_config)})


def make_source(client_config: dict, topics: Sequence[str] = ()) -> ClientSource:
    """What land_raw reads chunks with: the native reader when it can, else confluent-kafka.

    topics are looked up first: the first partition read of a topic the client has not
    seen could otherwise wait up to a second for its messages.
    """
    from superhero_assets.core import kafka_native

    settings = kafka_native.settings_as_text(consumer_settings(client_config))
    library = kafka_native.library_path() if kafka_native.enabled() and settings else None
    if library is None:
        source = ClientSource(make_consumer(client_config))
    else:
        source = kafka_native.NativeSource(library, settings)
    source.learn_topics(topics)
    return source


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


class ClientSource:
    """Batches from confluent-kafka's consumer; kafka_native.NativeSource does the same."""

    def __init__(self, consumer: Consumer) -> None:
        self.consumer = consumer

    def learn_topics(self, topics: Sequence[str]) -> None:
        """Best effort (see make_source): a failure shows again when the topic is read."""
        for topic in topics:
            try:
                self.consumer.list_topics(topic, timeout=LEARN_TIMEOUT_S)
            except KafkaException:
                return

    def assign(self, topic: str, partition: int, offset: int) -> None:
        self.consumer.assign([TopicPartition(topic, partition, offset)])

    def position(self, topic: str, partition: int) -> int:
        (pos,) = self.consumer.position([TopicPartition(topic, partition)])
        return pos.offset

    def read(self, topic: str, partition: int, want: int, last: int) -> pa.Table | None:
        """Up to want messages (waiting at most 1 s), none past offset last."""
        batch = self.consumer.consume(num_messages=want, timeout=1.0)
        if batch:
            if any(map(Message.error, batch)):
                error = next(m.error() for m in batch if m.error())
                raise ConsumeError(f"{topic}[{partition}]: {error}")
            if batch[-1].offset() > last:
                batch = [m for m in batch if m.offset() <= last]
        return to_arrow(batch, topic, partition) if batch else None

    def close(self) -> None:
        self.consumer.close()


def read_chunk(
    source: ClientSource, chunk: Chunk, batch_messages: int = 16_000, stall_timeout_s: float = 60.0
) -> Iterator[pa.Table]:
    """Yield the chunk's messages as raw Arrow tables of at most batch_messages rows each."""
    topic, partition = chunk.topic, chunk.partition
    try:
        source.assign(topic, partition, chunk.first)
        position, idle_since = chunk.first, time.monotonic()
        while position <= chunk.last:
            want = min(batch_messages, chunk.last - position + 1)
            table = source.read(topic, partition, want, chunk.last)
            if table is not None:
                position = table["offset"][-1].as_py() + 1
                idle_since = time.monotonic()
                yield table
                del table  # the batch goes before the next read
                continue
            # Offsets that hold no message (transaction markers, compaction) still advance
            # the consumer's position, so the position, not the last message, ends the chunk.
            if source.position(topic, partition) > chunk.last:
                break
            if time.monotonic() - idle_since > stall_timeout_s:
                raise ConsumeError(
                    f"{topic}[{partition}] returned nothing past offset {position - 1} "
                    f"for {stall_timeout_s:.0f}s although the plan reaches {chunk.last}. Is the "
                    "broker up? The run can be retried: it will redo the same plan."
                )
    except ConsumeError:
        raise
    except (KafkaException, RuntimeError) as exc:  # RuntimeError: the native reader's
        raise ConsumeError(f"Kafka error reading {chunk.stem}: {exc}") from exc


_HEADERS = contract.RAW_MESSAGES.field("headers").type


def to_arrow(messages: list, topic: str, partition: int) -> pa.Table:
    """Columns straight from the client's message objects; no parsing happens here.

    One C-level pass per attribute (map over the method), no Python loop per message;
    keys and headers, almost always absent, cost nothing when they are.
    """
    n = len(messages)
    # (type, timestamp) pairs flattened into one int64 array: kinds at even, stamps at odd.
    pairs = chain.from_iterable(map(Message.timestamp, messages))
    kinds_stamps = np.fromiter(pairs, dtype=np.int64, count=2 * n).reshape(n, 2)
    keys = list(map(Message.key, messages))
    headers = list(map(Message.headers, messages))
    return pa.Table.from_arrays(
        [
            *chunk_columns(topic, partition, n),
            pa.array(list(map(Message.offset, messages)), pa.int64()),
            pa.array(kinds_stamps[:, 1]).cast(contract.TS_MS),
            pa.array(kinds_stamps[:, 0]).cast(pa.int8()),
            pa.nulls(n, pa.binary()) if keys.count(None) == n else pa.array(keys, pa.binary()),
            empty_headers(n)
            if headers.count(None) == n
            else pa.array(
                [[{"key": k, "value": v} for k, v in h] if h else [] for h in headers], _HEADERS
            ),
            _binary(list(map(Message.value, messages))),
        ],
        schema=contract.RAW_MESSAGES,
    )


def _binary(values: list[bytes | None]) -> pa.Array:
    """A binary array built from one joined buffer: a single allocation, no regrowing."""
    if None in values:  # a tombstone: let Arrow build the validity bitmap
        return pa.array(values, pa.binary())
    offsets = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, values), dtype=np.int64, count=len(values)), out=offsets[1:])
    if offsets[-1] > np.iinfo(np.int32).max:
        return pa.array(values, pa.binary())  # over 2 GiB: more than one batch should ever hold
    data = pa.py_buffer(b"".join(values))
    return pa.Array.from_buffers(
        pa.binary(), len(values), [None, pa.py_buffer(offsets.astype(np.int32)), data]
    )


def chunk_columns(topic: str, partition: int, n: int) -> tuple[pa.Array, pa.Array]:
    """The topic and partition columns, n rows, from numpy buffers: the first pa.array() or
    pa.repeat() call in a process imports pandas (0.2 s) and would stall the reading thread."""
    name = topic.encode()
    offsets = np.arange(n + 1, dtype=np.int32) * np.int32(len(name))
    topics = pa.Array.from_buffers(
        pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(name * n)]
    )
    partitions = np.full(n, partition, dtype=np.int32)
    return topics, pa.Array.from_buffers(pa.int32(), n, [None, pa.py_buffer(partitions)])


def empty_headers(n: int) -> pa.Array:
    offsets = pa.Array.from_buffers(
        pa.int32(), n + 1, [None, pa.py_buffer(np.zeros(n + 1, dtype=np.int32))]
    )
    no_pairs = pa.StructArray.from_arrays(
        [_empty(pa.string()), _empty(pa.binary())], fields=list(_HEADERS.value_type)
    )
    return pa.ListArray.from_arrays(offsets, no_pairs, type=_HEADERS)


def _empty(type_: pa.DataType) -> pa.Array:
    return pa.Array.from_buffers(type_, 0, [None, pa.py_buffer(bytes(4)), pa.py_buffer(b"")])
