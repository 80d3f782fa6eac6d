"""Getting log records into Kafka without loss, spread over every partition.

The values carry no key, so librdkafka would pick partitions itself; its sticky partitioner
fills one partition per batch window. The sink instead chooses partitions round-robin, so
every partition of a topic gets data even from a short game.
"""

from __future__ import annotations

import itertools
import logging
import sys
from collections.abc import Callable, Iterable, Iterator

from confluent_kafka import KafkaException, Producer

from superhero_tools.simulator import wire
from superhero_tools.stack import StackError

# No loss: every in-sync replica acknowledges, and retries cannot duplicate or reorder.
NO_LOSS = {"acks": "all", "enable.idempotence": True}
# Interactive play: small batches, so a record reaches Kafka within milliseconds.
INTERACTIVE = {"linger.ms": 5}
# Bulk load: big compressed batches and a deep queue, so Python never waits on the network.
BULK = {
    "linger.ms": 50,
    "batch.size": 1_000_000,
    "compression.type": "lz4",
    "queue.buffering.max.messages": 1_000_000,
    "queue.buffering.max.kbytes": 1_048_576,
}


class KafkaSinkError(StackError):
    """Kafka could not take the records; the message says what to check."""


class KafkaSink:
    """Produces string values to the game topics, round-robin over each topic's partitions."""

    def __init__(self, bootstrap_servers: str, topics: Iterable[str], tuning: dict | None = None):
        self.bootstrap_servers = bootstrap_servers
        self.failed = 0
        self.counts: dict[str, int] = {}  # partitions of each topic
        self.producer = Producer(
            {
                "bootstrap.servers": bootstrap_servers,
                **NO_LOSS,
                **(tuning or INTERACTIVE),
                # Only failures come back, so a healthy run pays nothing per message.
                "delivery.report.only.error": True,
                "on_delivery": self._on_delivery,
            }
        )
        self.partitions = {t: self._cycle(t, bootstrap_servers) for t in topics}
        # Records handed to the producer, per topic: after a close() that raised nothing,
        # each of them was acknowledged by every in-sync replica (acks=all).
        self.produced = dict.fromkeys(self.partitions, 0)

    def _cycle(self, topic: str, bootstrap_servers: str) -> Iterator[int]:
        try:
            metadata = self.producer.list_topics(topic, timeout=10)
        except KafkaException as exc:
            raise KafkaSinkError(
                f"Kafka at {bootstrap_servers} did not answer ({exc}); start it with "
                "`superhero stack up` or set KAFKA_BOOTSTRAP_SERVERS"
            ) from None
        found = metadata.topics.get(topic)
        if found is None or found.error is not None or not found.partitions:
            raise KafkaSinkError(
                f"topic {topic} is missing on {bootstrap_servers}; `superhero stack up` creates it"
            )
        self.counts[topic] = len(found.partitions)
        return itertools.cycle(sorted(found.partitions))

    def _on_delivery(self, error, message) -> None:
        if error is not None:
            self.failed += 1
            print(f"kafka: a record to {message.topic()} was lost: {error}", file=sys.stderr)

    def send(self, topic: str, value: str) -> None:
        self._produce(topic, value, next(self.partitions[topic]))
        self.produced[topic] += 1

    def _produce(self, topic: str, value: str, partition: int) -> None:
        while True:
            try:
                self.producer.produce(topic, value, partition=partition)
                self.producer.poll(0)  # serves the (rare) failure reports
                return
            except BufferError:
                # The local queue is full: let librdkafka drain it, then try again.
                self.producer.poll(0.05)

    def fast_emitter(self) -> Callable[[str, str], None]:
        """send() for bulk loads: the same round-robin, with the queue served every 64k records."""
        produce, poll = self.producer.produce, self.producer.poll
        partitions = {
            t: list(itertools.islice(cycle, self.partition_count(t)))
            for t, cycle in self.partitions.items()
        }
        counters = self.produced  # counts each record once, whichever way it goes

        def emit(topic: str, value: str) -> None:
            count = counters[topic] = counters[topic] + 1
            choices = partitions[topic]
            partition = choices[count % len(choices)]
            try:
                produce(topic, value, partition=partition)
            except BufferError:
                poll(0.05)
                self._produce(topic, value, partition)
            if not count & 0xFFFF:
                poll(0)

        return emit

    def partition_count(self, topic: str) -> int:
        return self.counts[topic]

    def close(self, timeout_s: float = 60.0) -> dict[str, int]:
        """Flush everything; raise if any record was not acknowledged.

        Returns the records Kafka acknowledged, per topic: all that were produced, since
        a failed delivery is reported (delivery.report.only.error) and raises here.
        """
        left = self.producer.flush(timeout_s)
        if left or self.failed:
            raise KafkaSinkError(
                f"{left} records still queued and {self.failed} failed after flushing; "
                "check `superhero stack status` and the broker log"
            )
        return dict(self.produced)


class GameRecordFormatter(logging.Formatter):
    """Formats a record carrying `task` (set through `extra=`) as one wire value."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = wire.local_stamp(record.created)
        task = getattr(record, "task", "")
        return wire.record(record.levelname, stamp, record.name, record.getMessage(), task)


class KafkaLogHandler(logging.Handler):
    """Sends `{module}.lib.server.x` records to the topic `lib.server.x`."""

    def __init__(self, sink: KafkaSink):
        super().__init__()
        self.sink = sink
        self.setFormatter(GameRecordFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.sink.send(record.name.split(".", 1)[1], self.format(record))
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        try:
            self.sink.close()
        finally:
            super().close()
