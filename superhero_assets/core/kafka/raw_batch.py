"""What both Kafka readers share: their base class, their error, and the columns of a batch."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from superhero_assets.core import contract

# How long a reader waits for the metadata of the topics it is about to read.
LEARN_TIMEOUT_S = 5.0
HEADERS = contract.RAW_MESSAGES.field("headers").type


class ConsumeError(RuntimeError):
    """Kafka stopped serving the planned offsets; the message says what was missing."""


@dataclass
class Resume:
    """Where the consumer stands after the last read, and how many assignments it took."""

    at: tuple[str, int, int] | None = None  # (topic, partition, next offset)
    assigns: int = 0  # new assignments made (the others went on reading)


class BatchSource(ABC):
    """Reads one assigned partition at a time as raw_messages tables (see read_chunk).

    A chunk that starts where the last read ended, on the same partition, with nothing read
    past that end, goes on from the consumer's read-ahead. A new assignment would drop it
    and wait for a first fetch again, at every chunk. Anything else assigns, so at worst
    the consumer skips offsets that hold no message (transaction markers), never a record:
    each record it hands over is either kept or, past a chunk's end, makes the next chunk
    assign again. A failed assign or read leaves the next one to assign too.
    """

    def __init__(self) -> None:
        self.resume = Resume()

    def assign(self, topic: str, partition: int, offset: int) -> None:
        """Read from offset on (or go on reading, if that is where the last read ended)."""
        if self.resume.at == (topic, partition, offset):
            return
        self.resume.at = None
        self._assign(topic, partition, offset)
        self.resume.at = (topic, partition, offset)
        self.resume.assigns += 1

    def read(self, topic: str, partition: int, want: int, last: int) -> pa.Table | None:
        """Up to want messages (waiting at most 1 s), none past offset last."""
        at, self.resume.at = self.resume.at, None  # set again only if the read succeeds
        table, dropped = self._read(topic, partition, want, last)
        if table is None:
            self.resume.at = None if dropped else at
        elif not dropped:
            self.resume.at = (topic, partition, table["offset"][-1].as_py() + 1)
        return table

    @abstractmethod
    def learn_topics(self, topics: Sequence[str]) -> None:
        """Look the topics up before they are read; best effort."""

    @abstractmethod
    def position(self, topic: str, partition: int) -> int:
        """The offset the consumer reads next (negative: not known yet)."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def _assign(self, topic: str, partition: int, offset: int) -> None: ...

    @abstractmethod
    def _read(
        self, topic: str, partition: int, want: int, last: int
    ) -> tuple[pa.Table | None, int]:
        """(the table of the kept messages or None, how many past last were dropped)."""


def raw_table(
    topic: str,
    partition: int,
    offset: pa.Array,
    timestamp: pa.Array,
    timestamp_type: pa.Array,
    key: pa.Array,
    headers: pa.Array,
    value: pa.Array,
) -> pa.Table:
    """One read batch of one partition as a raw_messages table (both readers build these)."""
    return pa.Table.from_arrays(
        [
            *chunk_columns(topic, partition, len(offset)),
            offset,
            timestamp,
            timestamp_type,
            key,
            headers,
            value,
        ],
        schema=contract.RAW_MESSAGES,
    )


def chunk_columns(topic: str, partition: int, n: int) -> tuple[pa.Array, pa.Array]:
    """The topic and partition columns, n rows, from numpy buffers: the first pa.array() or
    pa.repeat() call in a process imports pandas, which would stall the reading thread."""
    name = topic.encode()
    offsets = np.arange(n + 1, dtype=np.int32) * np.int32(len(name))
    topics = pa.Array.from_buffers(
        pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(name * n)]
    )
    partitions = np.full(n, partition, dtype=np.int32)
    return topics, pa.Array.from_buffers(pa.int32(), n, [None, pa.py_buffer(partitions)])


def headers_column(n: int, pairs_by_row: list[tuple[int, list[tuple[str, Any]]]]) -> pa.Array:
    """The headers of n messages, from (row, [(name, value)]) of the few that have any."""
    if not pairs_by_row:
        return empty_headers(n)
    rows: list[list[dict]] = [[] for _ in range(n)]
    for row, pairs in pairs_by_row:
        rows[row] = [{"key": name, "value": value} for name, value in pairs]
    return pa.array(rows, HEADERS)


def empty_headers(n: int) -> pa.Array:
    offsets = pa.Array.from_buffers(
        pa.int32(), n + 1, [None, pa.py_buffer(np.zeros(n + 1, dtype=np.int32))]
    )
    no_pairs = pa.StructArray.from_arrays(
        [_empty(pa.string()), _empty(pa.binary())], fields=list(HEADERS.value_type)
    )
    return pa.ListArray.from_arrays(offsets, no_pairs, type=HEADERS)


def _empty(type_: pa.DataType) -> pa.Array:
    return pa.Array.from_buffers(type_, 0, [None, pa.py_buffer(bytes(4)), pa.py_buffer(b"")])
