"""The two batch sources read a chunk from the real broker into the same raw_messages table.

confluent-kafka's consumer (ClientSource) and the native module's librdkafka reader
(NativeSource) against one topic holding what the loader can meet: keys, headers, a
tombstone, an aborted transaction and the commit markers that leave offsets without a
message, up to the chunk's very end.
"""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from superhero_assets.core import contract
from superhero_assets.core.kafka import native_reader
from superhero_assets.core.kafka.client_reader import ClientSource
from superhero_assets.core.kafka.consume import (
    ConsumeError,
    consumer_settings,
    make_consumer,
    make_source,
    read_chunk,
    watermarks,
)
from superhero_assets.core.parse import native
from superhero_assets.core.run.plan import Chunk

pytestmark = pytest.mark.integration

needs_native = pytest.mark.skipif(not native.available(), reason=native.INSTALL_HINT)


@pytest.fixture(scope="module")
def topic(stack):
    """One partition: plain records, then an aborted and a committed transaction."""
    bootstrap = stack.kafka_bootstrap_servers
    name = f"test-sources-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, 1, 1)])[name].result(timeout=30)
    plain = Producer({"bootstrap.servers": bootstrap})
    plain.produce(name, b'{"n": 0}', timestamp=1_700_000_000_000)
    plain.produce(name, b'{"n": 1}', key=b"k1", headers=[("h", b"v"), ("empty", None)])
    plain.produce(name, None, key=b"tombstone")
    plain.produce(name, b"")
    plain.flush(30)
    txn = Producer({"bootstrap.servers": bootstrap, "transactional.id": name})
    txn.init_transactions(30)
    txn.begin_transaction()
    txn.produce(name, b'{"aborted": true}')
    txn.flush(30)  # on the broker, so that the abort leaves a record and a marker
    txn.abort_transaction(30)
    txn.begin_transaction()
    for i in range(5):
        txn.produce(name, b'{"committed": %d}' % i)
    txn.commit_transaction(30)
    yield bootstrap, name
    admin.delete_topics([name])


def _chunk(bootstrap: str, name: str) -> Chunk:
    consumer = make_consumer({"bootstrap.servers": bootstrap})
    try:
        ((low, high),) = watermarks(consumer, name).values()
    finally:
        consumer.close()
    return Chunk(name, 0, low, high - 1)  # the last offset is the commit marker


def _read(source, chunk: Chunk):
    try:
        started = time.monotonic()
        tables = list(read_chunk(source, chunk, batch_messages=3, stall_timeout_s=5))
        return tables, time.monotonic() - started
    finally:
        source.close()


def _client(bootstrap: str) -> ClientSource:
    return ClientSource(make_consumer({"bootstrap.servers": bootstrap}))


def _native(bootstrap: str) -> native_reader.NativeSource:
    settings = native_reader.settings_as_text(consumer_settings({"bootstrap.servers": bootstrap}))
    return native_reader.NativeSource(native_reader.library_path(), settings)


def test_confluent_kafka_reads_the_chunk_without_the_aborted_record(topic):
    chunk = _chunk(*topic)
    tables, seconds = _read(_client(topic[0]), chunk)
    rows = [row for t in tables for row in t.to_pylist()]
    assert all(t.schema.equals(contract.RAW_MESSAGES) for t in tables)
    assert all(t.num_rows <= 3 for t in tables)
    values = [r["value"] for r in rows]
    assert values[:4] == [b'{"n": 0}', b'{"n": 1}', None, b""]
    assert values[4:] == [b'{"committed": %d}' % i for i in range(5)]
    assert [r["key"] for r in rows[:3]] == [None, b"k1", b"tombstone"]
    assert rows[1]["headers"] == [{"key": "h", "value": b"v"}, {"key": "empty", "value": None}]
    assert rows[0]["timestamp"].timestamp() == 1_700_000_000
    # 4 records, the aborted one and its marker, 5 committed and their marker
    assert chunk.last - chunk.first + 1 == 12
    assert [r["offset"] for r in rows] == [0, 1, 2, 3, 6, 7, 8, 9, 10]
    assert seconds < 5  # ended on the position past the marker, not on the stall timeout


@needs_native
def test_the_native_reader_gives_the_same_table(topic):
    chunk = _chunk(*topic)
    expected, _ = _read(_client(topic[0]), chunk)
    got, _ = _read(_native(topic[0]), chunk)
    assert [t.num_rows for t in got] == [t.num_rows for t in expected]
    for mine, theirs in zip(got, expected, strict=True):
        mine.validate(full=True)
        assert mine.equals(theirs), (mine.to_pylist(), theirs.to_pylist())


@pytest.mark.parametrize("make", [_client, pytest.param(_native, marks=needs_native)])
def test_one_source_reads_consecutive_chunks_of_a_partition_exactly_once(topic, make):
    """As land does: one source, chunk after chunk, each ending mid-batch or on a marker
    (a chunk's last read can take messages past its end: the next one must not lose them)."""
    bootstrap, name = topic
    source = make(bootstrap)
    offsets = []
    try:
        for first, last in [(0, 1), (2, 4), (5, 5), (6, 8), (9, 11)]:
            chunk = Chunk(name, 0, first, last)
            for table in read_chunk(source, chunk, batch_messages=4, stall_timeout_s=5):
                offsets += table["offset"].to_pylist()
    finally:
        source.close()
    assert offsets == [0, 1, 2, 3, 6, 7, 8, 9, 10]
    # (2, 4) went on from (0, 1); (5, 5) had to assign: the read for 4 took 6 past it
    assert source.resume.assigns == 3


@pytest.mark.parametrize("make", [_client, pytest.param(_native, marks=needs_native)])
def test_offsets_past_the_log_end_are_an_error_not_an_empty_chunk(topic, make):
    bootstrap, name = topic
    with pytest.raises(ConsumeError, match=rf"{name}\[0\]: .*Offset out of range"):
        _read(make(bootstrap), Chunk(name, 0, 1000, 1010))


@needs_native
def test_the_loader_reads_with_the_native_reader_when_it_is_built(stack):
    source = make_source({"bootstrap.servers": stack.kafka_bootstrap_servers})
    try:
        assert isinstance(source, native_reader.NativeSource)
    finally:
        source.close()


@needs_native
def test_a_bad_setting_is_named(stack):
    settings = {"bootstrap.servers": stack.kafka_bootstrap_servers, "fetch.wait.max.ms": "soon"}
    with pytest.raises(ConsumeError, match="fetch.wait.max.ms"):
        make_source(settings)


def test_python_callbacks_keep_confluent_kafka(stack):
    config = {"bootstrap.servers": stack.kafka_bootstrap_servers, "error_cb": print}
    assert native_reader.settings_as_text(config) is None
    source = make_source(config)
    try:
        assert isinstance(source, ClientSource)
    finally:
        source.close()
