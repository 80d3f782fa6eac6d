"""Which offsets of a range Kafka serves a record at, as the loader's own reader sees them.

An offset can hold no record the loader would load: a transaction marker, a record of an
aborted transaction (with librdkafka's default isolation.level, read_committed), or one
removed by compaction. The contiguity check asks this module, for a file that lacks
offsets, which offsets Kafka serves there, by reading the range again with the loader's
reader (`consume.make_source` and `consume.read_chunk`) and keeping only the offsets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType

import numpy as np
from confluent_kafka import Consumer

from superhero_assets.core.kafka.consume import make_consumer, make_source, read_chunk, watermarks
from superhero_assets.core.kafka.raw_batch import BatchSource, ConsumeError
from superhero_assets.core.run.plan import Chunk


@dataclass(frozen=True)
class ServedRange:
    """The offsets Kafka serves a record at in readable..span.last, sorted.

    readable is span.first when Kafka still has the whole span; past it when retention
    already removed the start (span.last + 1: none of it is left).
    """

    span: Chunk
    readable: int
    offsets: np.ndarray


def every_offset(span: Chunk) -> ServedRange:
    """A record at every offset: what a topic without transactions or compaction serves."""
    return ServedRange(span, span.first, np.arange(span.first, span.last + 1, dtype=np.int64))


class KafkaOffsets:
    """Reads ranges again with the loader's reader; connects only when first asked."""

    def __init__(
        self, client_config: dict, topics: Sequence[str] = (), batch_messages: int = 10_000
    ) -> None:
        self.client_config = client_config
        self.topics = tuple(topics)
        self.batch_messages = batch_messages
        self._source: BatchSource | None = None
        self._consumer: Consumer | None = None

    def __call__(self, span: Chunk) -> ServedRange:
        # Retention can move the low watermark while the range is read: then read what is left.
        for _ in range(3):
            readable = max(span.first, self._low(span.topic, span.partition))
            if readable > span.last:
                return ServedRange(span, span.last + 1, np.empty(0, dtype=np.int64))
            try:
                rest = Chunk(span.topic, span.partition, readable, span.last)
                return ServedRange(span, readable, self._read(rest))
            except ConsumeError:
                if self._low(span.topic, span.partition) <= readable:
                    raise
        raise ConsumeError(f"{span.stem}: retention kept moving while it was read")

    def _low(self, topic: str, partition: int) -> int:
        if self._consumer is None:
            self._consumer = make_consumer(self.client_config)
        return watermarks(self._consumer, topic)[partition][0]

    def _read(self, span: Chunk) -> np.ndarray:
        if self._source is None:
            self._source = make_source(self.client_config, self.topics)
        batches = [
            table["offset"].to_numpy()
            for table in read_chunk(self._source, span, self.batch_messages)
        ]
        return np.sort(np.concatenate(batches)) if batches else np.empty(0, dtype=np.int64)

    def close(self) -> None:
        if self._source is not None:
            self._source.close()
        if self._consumer is not None:
            self._consumer.close()
        self._source = self._consumer = None

    def __enter__(self) -> KafkaOffsets:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
