"""What both Kafka readers share: their error, and the columns every raw batch repeats."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from superhero_assets.core import contract

# How long a reader waits for the metadata of the topics it is about to read.
LEARN_TIMEOUT_S = 5.0
HEADERS = contract.RAW_MESSAGES.field("headers").type


class ConsumeError(RuntimeError):
    """Kafka stopped serving the planned offsets; the message says what was missing."""


class Resume:
    """Where a consumer goes on reading without a new assignment: (topic, partition, offset).

    A chunk that starts where the last one ended, on the same partition, with nothing read
    past that end, goes on from the consumer's read-ahead. A new assignment would drop it
    and wait for a first fetch again (15-30 ms a chunk). Anything else assigns, so at worst
    the consumer skips offsets that hold no message (transaction markers), never a record:
    each record it hands over is either kept or, past a chunk's end, makes the next chunk
    assign again.
    """

    def __init__(self) -> None:
        self.at: tuple[str, int, int] | None = None
        self.assigns = 0  # new assignments made (the others went on reading)

    def needs_assign(self, topic: str, partition: int, offset: int) -> bool:
        return self.at != (topic, partition, offset)

    def assigned(self, topic: str, partition: int, offset: int) -> None:
        """After an assignment succeeded (until then, and after any failure, at is None)."""
        self.at, self.assigns = (topic, partition, offset), self.assigns + 1

    def read(self, topic: str, partition: int, last_kept: int | None, dropped: int) -> None:
        """After a read: the last offset it kept, and how many records past the end it dropped."""
        if dropped:
            self.at = None
        elif last_kept is not None:
            self.at = (topic, partition, last_kept + 1)


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
        [_empty(pa.string()), _empty(pa.binary())], fields=list(HEADERS.value_type)
    )
    return pa.ListArray.from_arrays(offsets, no_pairs, type=HEADERS)


def _empty(type_: pa.DataType) -> pa.Array:
    return pa.Array.from_buffers(type_, 0, [None, pa.py_buffer(bytes(4)), pa.py_buffer(b"")])
