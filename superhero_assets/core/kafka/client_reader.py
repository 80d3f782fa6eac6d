"""Batches read with confluent-kafka's consumer, as raw_messages tables."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain

import numpy as np
import pyarrow as pa
from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from superhero_assets.core import contract
from superhero_assets.core.kafka.raw_batch import (
    LEARN_TIMEOUT_S,
    BatchSource,
    ConsumeError,
    headers_column,
    raw_table,
)


class ClientSource(BatchSource):
    """Batches from confluent-kafka's consumer; native_reader.NativeSource does the same."""

    def __init__(self, consumer: Consumer) -> None:
        super().__init__()
        self.consumer = consumer

    def learn_topics(self, topics: Sequence[str]) -> None:
        for topic in topics:
            try:
                self.consumer.list_topics(topic, timeout=LEARN_TIMEOUT_S)
            except KafkaException:
                return  # shows again, with its reason, when the topic is read

    def position(self, topic: str, partition: int) -> int:
        (pos,) = self.consumer.position([TopicPartition(topic, partition)])
        return pos.offset

    def close(self) -> None:
        self.consumer.close()

    def _assign(self, topic: str, partition: int, offset: int) -> None:
        self.consumer.assign([TopicPartition(topic, partition, offset)])

    def _read(
        self, topic: str, partition: int, want: int, last: int
    ) -> tuple[pa.Table | None, int]:
        batch = self.consumer.consume(num_messages=want, timeout=1.0)
        if not batch:
            return None, 0
        if any(map(Message.error, batch)):
            error = next(m.error() for m in batch if m.error())
            raise ConsumeError(f"{topic}[{partition}]: {error}")
        kept = [m for m in batch if m.offset() <= last] if batch[-1].offset() > last else batch
        return (to_arrow(kept, topic, partition) if kept else None), len(batch) - len(kept)


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
    return raw_table(
        topic,
        partition,
        pa.array(list(map(Message.offset, messages)), pa.int64()),
        pa.array(kinds_stamps[:, 1]).cast(contract.TS_MS),
        pa.array(kinds_stamps[:, 0]).cast(pa.int8()),
        pa.nulls(n, pa.binary()) if keys.count(None) == n else pa.array(keys, pa.binary()),
        headers_column(
            n, [] if headers.count(None) == n else [(i, h) for i, h in enumerate(headers) if h]
        ),
        _binary(list(map(Message.value, messages))),
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
