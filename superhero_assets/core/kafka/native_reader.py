"""Reading Kafka in the native module: librdkafka's consumer, straight into Arrow columns.

The same librdkafka confluent-kafka loaded, the same settings and the same reading loop
(`consume.read_chunk`); only the batch never becomes a million Python message objects. It
is used when the native module is built, the settings are all plain librdkafka ones, and
the librdkafka loaded is one whose structs native/src/kafka.rs was checked against;
SUPERHERO_NATIVE_KAFKA=0 (or SUPERHERO_NATIVE=0) keeps confluent-kafka's consumer.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import pyarrow as pa

from superhero_assets.core import contract
from superhero_assets.core.kafka.raw_batch import (
    LEARN_TIMEOUT_S,
    BatchSource,
    ConsumeError,
    headers_column,
    raw_table,
)
from superhero_assets.core.parse import native


def library_path() -> str:
    """confluent-kafka's extension: looked up through it, the librdkafka symbols are exactly
    those of the copy it loaded (the wheel's own, or the system's)."""
    import confluent_kafka.cimpl

    return confluent_kafka.cimpl.__file__


def settings_as_text(settings: Mapping[str, Any]) -> list[tuple[str, str]] | None:
    """librdkafka's string form of every setting; None if one is a Python callback."""
    pairs = []
    for name, value in settings.items():
        if callable(value) or not isinstance(value, (str, int, float, bool)):
            return None
        pairs.append((name, str(value).lower() if isinstance(value, bool) else str(value)))
    return pairs


# native/src/kafka.rs declares librdkafka's message struct by hand; these are the librdkafka
# versions it was checked against (pyproject pins confluent-kafka to the release bundling it).
CHECKED_LIBRDKAFKA = ("2.16.0",)


def loaded_librdkafka() -> str:
    import confluent_kafka

    return confluent_kafka.libversion()[0]


@cache
def librdkafka_checked() -> bool:
    """Whether the librdkafka confluent-kafka loaded is one the native reader was checked
    against; if not, reading falls back to confluent-kafka's consumer, and says so once."""
    loaded = loaded_librdkafka()
    if loaded in CHECKED_LIBRDKAFKA:
        return True
    logging.getLogger(__name__).warning(
        "the native Kafka reader was checked against librdkafka %s, but confluent-kafka "
        "loaded %s: reading with confluent-kafka's consumer (the same tables, slower). "
        "Install the confluent-kafka version pyproject.toml pins to read natively.",
        ", ".join(CHECKED_LIBRDKAFKA),
        loaded,
    )
    return False


def enabled() -> bool:
    return (
        native.available()
        and os.environ.get("SUPERHERO_NATIVE_KAFKA", "1") != "0"
        and librdkafka_checked()
    )


class NativeSource(BatchSource):
    """A batch source (see raw_batch.BatchSource) reading with the native module."""

    def __init__(self, library: str, settings: list[tuple[str, str]]) -> None:
        """ImportError when librdkafka cannot be used from here (make_source falls back)."""
        super().__init__()
        level = os.environ.get("KAFKA_CLIENT_LOG_LEVEL", "").strip().upper()
        if level:  # librdkafka logs to stderr itself, at the syslog level named
            settings = [*settings, ("log_level", str(_SYSLOG_LEVELS.get(level, 6)))]
        try:
            self._reader = native.kafka_reader(library, settings, quiet=not level)
        except (ValueError, RuntimeError) as exc:
            raise ConsumeError(f"{exc}. Check the Kafka settings (KafkaResource).") from exc

    def learn_topics(self, topics: Sequence[str]) -> None:
        self._reader.learn_topics(list(topics), int(LEARN_TIMEOUT_S * 1000))

    def position(self, topic: str, partition: int) -> int:
        return self._reader.position(topic, partition)

    def close(self) -> None:
        self._reader.close()

    def _assign(self, topic: str, partition: int, offset: int) -> None:
        self._reader.assign(topic, partition, offset)

    def _read(
        self, topic: str, partition: int, want: int, last: int
    ) -> tuple[pa.Table | None, int]:
        out = self._reader.read(want, 1000, last)
        if out["too_big"] is not None:
            raise ConsumeError(
                f"{topic}[{partition}]: a batch of {want} messages holds {out['too_big']:,} "
                "bytes, over Arrow's 2 GiB per array; lower batch_messages (LoaderConfig)."
            )
        if out["error"] is not None:
            code, description, detail = out["error"]
            raise ConsumeError(f"{topic}[{partition}]: {description}: {detail}")
        table = to_arrow(out, topic, partition) if out["rows"] else None
        return table, out["past_last"]


_SYSLOG_LEVELS = {"DEBUG": 7, "INFO": 6, "WARNING": 4, "WARN": 4, "ERROR": 3, "CRITICAL": 2}


def to_arrow(out: dict, topic: str, partition: int) -> pa.Table:
    """The reader's buffers as a raw_messages table, without copying them."""
    n = out["rows"]
    validity, offsets, data = map(pa.py_buffer, out["value"])
    values = pa.Array.from_buffers(
        pa.binary(), n, [validity if out["value_nulls"] else None, offsets, data]
    )
    if out["key"] is None:
        keys = pa.nulls(n, pa.binary())
    else:
        keys = pa.Array.from_buffers(pa.binary(), n, list(map(pa.py_buffer, out["key"])))
    headers = headers_column(
        n, [(row, [(_header_name(k), v) for k, v in pairs]) for row, pairs in out["headers"]]
    )
    return raw_table(
        topic,
        partition,
        pa.Array.from_buffers(pa.int64(), n, [None, pa.py_buffer(out["offset"])]),
        pa.Array.from_buffers(contract.TS_MS, n, [None, pa.py_buffer(out["timestamp"])]),
        pa.Array.from_buffers(pa.int8(), n, [None, pa.py_buffer(out["timestamp_type"])]),
        keys,
        headers,
        values,
    )


def _header_name(name: bytes) -> str:
    try:
        return name.decode()
    except UnicodeDecodeError as exc:
        raise ConsumeError(f"a header name is not UTF-8: {name!r}") from exc
