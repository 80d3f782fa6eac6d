"""Read planned chunks from Kafka in bounded batches, as Arrow tables of raw messages."""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Iterator, Sequence

import pyarrow as pa
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from superhero_assets.core.kafka import errors as kafka_errors
from superhero_assets.core.kafka import native_reader
from superhero_assets.core.kafka.client_reader import ClientSource
from superhero_assets.core.kafka.raw_batch import BatchSource, ConsumeError
from superhero_assets.core.run import heartbeat
from superhero_assets.core.run.plan import Chunk


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
        # A topic name that does not exist is refused (watermarks), never created by a
        # metadata request, even where the broker allows auto-creation.
        "allow.auto.create.topics": False,
        # Read-ahead of the one assigned partition, bounded so that memory follows the
        # batch. The limits count compressed bytes, and lz4 batches grow several times
        # once decompressed: larger fetches held far more and read no faster.
        "fetch.max.bytes": 2 * 1024 * 1024,
        "max.partition.fetch.bytes": 1024 * 1024,
        "queued.max.messages.kbytes": 2 * 1024,
        # A run reads one partition at a time and stops at the plan's end; a long wait
        # for a fetch to fill (the old setting) made chunk-by-chunk reading much slower
        # than reading every partition at once.
        "fetch.wait.max.ms": 10,
        # When the read-ahead is full, fetch again as soon as it drains (librdkafka's
        # default waits a whole second, which starves a small read-ahead).
        "fetch.queue.backoff.ms": 5,
        **client_config,
    }


class LoaderConsumer(Consumer):
    """A Consumer that remembers its settings and librdkafka's recent errors, so a request
    that failed can say why (see kafka_errors) rather than only that it timed out."""

    settings: dict
    client_errors: deque


def make_consumer(client_config: dict) -> LoaderConsumer:
    settings = consumer_settings(client_config)
    errors: deque = deque(maxlen=20)
    consumer = LoaderConsumer({"logger": client_logger(), "error_cb": errors.append, **settings})
    consumer.settings, consumer.client_errors = settings, errors
    return consumer


def make_source(client_config: dict, topics: Sequence[str] = ()) -> BatchSource:
    """What Loader.land reads chunks with: the native reader when it can, else confluent-kafka.

    topics are looked up first: the first partition read of a topic the client has not
    seen could otherwise wait up to a second for its messages.
    """
    settings = native_reader.settings_as_text(consumer_settings(client_config))
    source: BatchSource | None = None
    if native_reader.enabled() and settings:
        try:
            source = native_reader.NativeSource(native_reader.library_path(), settings)
        except ImportError as exc:
            logging.getLogger(__name__).warning("reading with confluent-kafka instead: %s", exc)
    source = source or ClientSource(make_consumer(client_config))
    source.learn_topics(topics)
    return source


def cluster_metadata(consumer: Consumer, topic: str | None = None, timeout_s: float = 15.0):
    """The cluster's metadata (of one topic, or of all); a failure names the setting to check."""
    settings = getattr(consumer, "settings", {})
    client_errors = getattr(consumer, "client_errors", ())
    deadline = time.monotonic() + timeout_s
    while True:
        # Asked a second at a time: a refused handshake ends the wait at once.
        wait = max(0.1, min(1.0, deadline - time.monotonic()))
        try:
            return consumer.list_topics(topic, timeout=wait)
        except KafkaException as exc:
            consumer.poll(0)  # serves the error callback: why the broker did not answer
            if time.monotonic() >= deadline or kafka_errors.is_refusal(client_errors):
                what = f" for {topic}" if topic else ""
                raise ConsumeError(
                    kafka_errors.explain(
                        f"did not answer a metadata request{what} within {timeout_s:.0f}s",
                        exc,
                        settings,
                        client_errors,
                    )
                ) from exc


def watermarks(
    consumer: Consumer, topic: str, timeout_s: float = 15.0
) -> dict[int, tuple[int, int]]:
    """{partition: (low, high)} of every partition of topic, as of now."""
    return {
        p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout_s)
        for p in partitions(consumer, topic, timeout_s)
    }


def partitions(consumer: Consumer, topic: str, timeout_s: float = 15.0) -> list[int]:
    """The topic's partitions, as of now; ConsumeError naming the fix if it has none."""
    settings = getattr(consumer, "settings", {})
    meta = cluster_metadata(consumer, topic, timeout_s).topics.get(topic)
    error = meta.error if meta is not None else None
    if error is not None and error.code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
        raise ConsumeError(f"topic {topic} is not available: {error}")
    if meta is None or error is not None or not meta.partitions:
        raise ConsumeError(kafka_errors.missing_topic(topic, settings))
    return sorted(meta.partitions)


def read_chunk(
    source: BatchSource, chunk: Chunk, batch_messages: int = 10_000, stall_timeout_s: float = 60.0
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
                if table["offset"][0].as_py() < position:  # never load an offset twice
                    raise ConsumeError(
                        f"{topic}[{partition}] went back to offset {table['offset'][0]} after "
                        f"{position - 1}. The run can be retried: it will redo the same plan."
                    )
                position = table["offset"][-1].as_py() + 1
                idle_since = time.monotonic()
                heartbeat.progress()
                yield table
                del table  # the batch goes before the next read
                continue
            # Offsets that hold no message (transaction markers, compaction) still advance
            # the consumer's position, so the position, not the last message, ends the chunk.
            # It is read only after a read that found nothing (up to 1 s after the assign):
            # right after an assign it can still show the previous chunk's position.
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
