"""to_arrow: the client's message objects become the raw_messages columns, exactly."""

import pytest
from confluent_kafka import Message

from superhero_assets.core import contract
from superhero_assets.core.kafka.client_reader import to_arrow


def message(offset, value, key=None, headers=None, ts=(1, 1693562587512)):
    return Message(
        topic="t", partition=2, offset=offset, value=value, key=key, headers=headers, timestamp=ts
    )


def test_values_offsets_and_timestamps_keep_their_order():
    values = [b'{"a": 1}', b"", b"x" * 40_000]
    table = to_arrow([message(10 + i, v, ts=(1, 1000 + i)) for i, v in enumerate(values)], "t", 2)
    assert table.schema.equals(contract.RAW_MESSAGES)
    assert table["value"].to_pylist() == values
    assert table["offset"].to_pylist() == [10, 11, 12]
    assert [t.value for t in table["timestamp"]] == [1000, 1001, 1002]
    assert table["timestamp_type"].to_pylist() == [1, 1, 1]
    assert table["key"].null_count == 3 and table["headers"].to_pylist() == [[], [], []]


def test_a_tombstone_keys_and_headers_are_kept():
    batch = [
        message(0, None, key=b"k", ts=(2, 5)),
        message(1, b"v", headers=[("h", b"1"), ("n", None)]),
    ]
    table = to_arrow(batch, "t", 2)
    assert table["value"].to_pylist() == [None, b"v"]
    assert table["key"].to_pylist() == [b"k", None]
    assert table["timestamp_type"].to_pylist() == [2, 1]
    assert table["headers"].to_pylist()[1] == [
        {"key": "h", "value": b"1"},
        {"key": "n", "value": None},
    ]


def test_an_empty_batch():
    table = to_arrow([], "t", 2)
    assert table.num_rows == 0 and table.schema.equals(contract.RAW_MESSAGES)


def test_the_native_readers_buffers_become_the_same_columns():
    """native_reader.to_arrow on buffers laid out as the native reader returns them."""
    import numpy as np

    from superhero_assets.core.kafka import native_reader

    values = [b'{"a": 1}', None, b""]
    out = {
        "rows": 3,
        "offset": np.array([10, 11, 12], dtype=np.int64).tobytes(),
        "timestamp": np.array([1000, 1001, 1002], dtype=np.int64).tobytes(),
        "timestamp_type": np.array([1, 2, 1], dtype=np.int8).tobytes(),
        "value": (bytes([0b101]), np.array([0, 8, 8, 8], dtype=np.int32).tobytes(), values[0]),
        "value_nulls": 1,
        "key": (bytes([0b010]), np.array([0, 0, 1, 1], dtype=np.int32).tobytes(), b"k"),
        "headers": [(2, [(b"h", b"1"), (b"n", None)])],
    }
    table = native_reader.to_arrow(out, "t", 2)
    table.validate(full=True)
    expected = to_arrow(
        [
            message(10, values[0], ts=(1, 1000)),
            message(11, None, key=b"k", ts=(2, 1001)),
            message(12, b"", headers=[("h", b"1"), ("n", None)], ts=(1, 1002)),
        ],
        "t",
        2,
    )
    assert table.equals(expected), (table.to_pylist(), expected.to_pylist())


def test_settings_go_to_librdkafka_as_text_and_callbacks_do_not():
    from superhero_assets.core.kafka import native_reader

    settings = {"a": True, "b": False, "c": 10, "d": 1.5, "e": "x"}
    assert native_reader.settings_as_text(settings) == [
        ("a", "true"),
        ("b", "false"),
        ("c", "10"),
        ("d", "1.5"),
        ("e", "x"),
    ]
    assert native_reader.settings_as_text({"logger": print}) is None
    assert native_reader.settings_as_text({"sasl.password": None}) is None


@pytest.mark.parametrize("n", [0, 1, 5])
def test_constant_columns_and_empty_headers(n):
    from superhero_assets.core.kafka.raw_batch import chunk_columns, empty_headers

    topics, partitions = chunk_columns("lib.server.game", 3, n)
    for column in (topics, partitions, empty_headers(n)):
        column.validate(full=True)
    assert topics.to_pylist() == ["lib.server.game"] * n
    assert partitions.to_pylist() == [3] * n
    assert empty_headers(n).to_pylist() == [[]] * n


class _FlakyConsumer:
    """A stand-in for confluent-kafka's consumer (unit test of the resume bookkeeping)."""

    def __init__(self, fail_consume: int = 0) -> None:
        self.assigned: list = []
        self.fail_consume = fail_consume
        self.next_offset = 0

    def assign(self, partitions) -> None:
        self.assigned.append(partitions[0].offset)
        self.next_offset = partitions[0].offset

    def consume(self, num_messages: int, timeout: float) -> list:
        if self.fail_consume:
            self.fail_consume -= 1
            raise RuntimeError("broker went away")
        batch = [message(self.next_offset + i, b"{}") for i in range(num_messages)]
        self.next_offset += num_messages
        return batch


def test_a_source_goes_on_reading_only_after_reads_that_succeeded():
    from superhero_assets.core.kafka.client_reader import ClientSource

    consumer = _FlakyConsumer(fail_consume=1)
    source = ClientSource(consumer)
    source.assign("t", 2, 0)
    with pytest.raises(RuntimeError):
        source.read("t", 2, 5, 9)  # consumed or not, nothing was kept: assign again
    source.assign("t", 2, 0)
    assert consumer.assigned == [0, 0]
    assert source.read("t", 2, 5, 9)["offset"].to_pylist() == [0, 1, 2, 3, 4]
    source.assign("t", 2, 5)  # where the last read ended: no new assignment
    assert consumer.assigned == [0, 0]
    source.assign("t", 2, 7)  # anywhere else: a new assignment
    assert consumer.assigned == [0, 0, 7]
