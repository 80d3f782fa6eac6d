"""Batches read with confluent-kafka's consumer, as raw_messages tables."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain

import numpy as np
import pyarrow as pa
from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from superhero_assets.core import contract
from superhero_assets.core.raw_batch import (
    HEADERS,
    LEARN_TIMEOUT_S,
    ConsumeError,
    Resume,
    chunk_columns,
    empty_headers,
)


class ClientSource:
    """Batches from confluent-kafka's consumer; kafka_native.NativeSource does the same."""

    def __init__(self, consumer: Consumer) -> None:
        self.consumer = consumer
        self.resume = Resume()

    def learn_topics(self, topics: Sequence[str]) -> None:
        """Best effort (see make_source): a failure shows again when the topic is read."""
        for topic in topics:
            try:
                self.consumer.list_topics(topic, timeout=LEARN_TIMEOUT_S)
            except KafkaException:
                return

    def assign(self, topic: str, partition: int, offset: int) -> None:
        if self.resume.needs_assign(topic, partition, offset):
            self.resume.at = None
            self.consumer.assign([TopicPartition(topic, partition, offset)])
            self.resume.assigned(topic, partition, offset)

    def position(self, topic: str, partition: int) -> int:
        (pos,) = self.consumer.position([TopicPartition(topic, partition)])
        return pos.offset

    def read(self, topic: str, partition: int, want: int, last: int) -> pa.Table | None:
        """Up to want messages (waiting at most 1 s), none past offset last."""
        at, self.resume.at = self.resume.at, None  # restored only if the read succeeds
        batch = self.consumer.consume(num_messages=want, timeout=1.0)
        dropped = 0
        if batch:
            if any(map(Message.error, batch)):
                error = next(m.error() for m in batch if m.error())
                raise ConsumeError(f"{topic}[{partition}]: {error}")
            if batch[-1].offset() > last:
                kept = [m for m in batch if m.offset() <= last]
                dropped, batch = len(batch) - len(kept), kept
        table = to_arrow(batch, topic, partition) if batch else None
        self.resume.at = at
        self.resume.read(topic, partition, batch[-1].offset() if batch else None, dropped)
        return table

    def close(self) -> None:
        self.consumer.close()


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
                [[{"key": k, "value": v} for k, v in h] if h else [] for h in headers], HEADERS
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
