"""to_arrow: the client's message objects become the raw_messages columns, exactly."""

from confluent_kafka import Message

from superhero_assets.core import contract
from superhero_assets.core.consume import to_arrow


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
