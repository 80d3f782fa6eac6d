"""The bad-input catalogue: each kind, produced straight to Kafka between good neighbours,
lands in quarantine with a precise reason while its neighbours load."""

import json

import pytest
from confluent_kafka import Producer

from tests.support import wire
from tests.support.elt_env import EltEnv
from tests.support.strict_input import STRICT

pytestmark = pytest.mark.integration

GOOD = wire.attack("g", "a", "b", 5, 20, 15)


def _task_record(**changes) -> bytes:
    task = {
        "TIMESTAMP": wire.UTC_TS,
        "PAYLOAD": {"GAME_TOKEN": "g", "USER_TOKEN": "a"},
        "STATUS": {
            "ACTION": "ATTACK",
            "DETAILS": {
                "ENEMY_TOKEN": "b",
                "ENEMY_DAMAGE": 5,
                "ENEMY_HEALTH_PRIOR": 20,
                "ENEMY_HEALTH_POST": 15,
            },
        },
    }
    task["STATUS"]["DETAILS"].update(changes)
    return wire.record("lib.server.game", "Attack Completed", json.dumps(task))


# kind -> (value, key, headers, expected reason; None means "loads, not quarantined")
CATALOGUE = {
    "not JSON": (b"{this is not json", None, None, "value is not JSON"),
    "non-UTF-8 bytes": (b"\xff\xfe\xfa", None, None, "value is not valid UTF-8"),
    "empty value": (b"", None, None, "empty value"),
    "null value": (None, None, None, "empty value"),
    "JSON that is not an object": (b'["a", 1]', None, None, "value is a JSON array"),
    "missing task": (
        wire.record_without_task(),
        None,
        None,
        "missing field task",
    ),
    "task is a string but not JSON": (
        wire.record("lib.server.game", "Attack Completed", "{not json"),
        None,
        None,
        "field task is a string but not JSON",
    ),
    "number as a string": (
        _task_record(ENEMY_DAMAGE="5"),
        None,
        None,
        'ENEMY_DAMAGE must be a non-negative integer within uint64, got varchar "5"',
    ),
    "negative value": (
        _task_record(ENEMY_HEALTH_POST=-3),
        None,
        None,
        "ENEMY_HEALTH_POST is negative: -3",
    ),
    "overflowing value": (
        _task_record(ENEMY_DAMAGE=2**64),
        None,
        None,
        "ENEMY_DAMAGE must be a non-negative integer within uint64",
    ),
    "float for an integer": (_task_record(ENEMY_HEALTH_PRIOR=20.5), None, None, "got double 20.5"),
    "hero id past uint16": (
        wire.starting_match("g", {"u": (70000, 1, 1)}),
        None,
        None,
        "id is past uint16: 70000",
    ),
    "1 MB value": (
        wire.record("lib.server.game", "Power Up", "x" * 1_048_576),
        None,
        None,
        "bytes, past int16 serialized_value_size",
    ),
    "binary key": (GOOD, b"\xff\x00\xfe", None, "key is not valid UTF-8"),
    "binary header": (GOOD, None, [("trace", b"\xff\xfe")], "a header value is not valid UTF-8"),
    "TIMESTAMP in the wrong format": (
        wire.attack("g", "a", "b", 5, 20, 15, ts="01/09/2023 14:03:07"),
        None,
        None,
        'task.TIMESTAMP "01/09/2023 14:03:07" is not UTC time',
    ),
    "TIMESTAMP without a Z": (
        wire.attack("g", "a", "b", 5, 20, 15, ts="2023-09-01T14:03:07"),
        None,
        None,
        'task.TIMESTAMP "2023-09-01T14:03:07" is not UTC time',
    ),
    "unknown log_message": (wire.record("lib.server.game", "Level Up", "{}"), None, None, None),
    # Strict input (duplicate keys, timestamps' shape and range, a participant twice): the
    # reason is exact.
    **{kind: (value, None, None, reason) for kind, (value, reason) in STRICT.items()},
}


@pytest.fixture(scope="module")
def loaded(stack, tmp_path_factory):
    elt = EltEnv.create(stack, tmp_path_factory.mktemp("bad") / "out")
    producer = Producer(
        {
            "bootstrap.servers": stack.kafka_bootstrap_servers,
            "acks": "all",
            "message.max.bytes": 4 * 1024 * 1024,
        }
    )
    offsets: dict[str, int] = {}
    for kind, (value, key, headers, _) in CATALOGUE.items():
        producer.produce(elt.game, value=GOOD, partition=0)
        producer.produce(
            elt.game,
            value=value,
            key=key,
            headers=headers,
            partition=0,
            on_delivery=lambda err, msg, kind=kind: offsets.__setitem__(kind, msg.offset()),
        )
    producer.produce(elt.game, value=GOOD, partition=0)
    assert producer.flush(30) == 0
    elt.run()
    yield elt, offsets
    elt.cleanup()


@pytest.mark.parametrize("kind", list(CATALOGUE))
def test_each_kind_of_bad_input_is_quarantined_with_its_reason(loaded, kind):
    elt, offsets = loaded
    quarantine = elt.table("quarantine").to_pylist()
    by_offset = {row["offset"]: row for row in quarantine}
    reason = CATALOGUE[kind][3]
    if reason is None:
        assert offsets[kind] not in by_offset
        log = elt.table("log_meta").to_pylist()
        assert f"{elt.game}:0:{offsets[kind]}" in {r["msg_id"] for r in log}
    else:
        row = by_offset[offsets[kind]]
        assert reason in row["error"], row["error"]
        assert kind not in STRICT or row["error"] == reason
        assert row["value"] == CATALOGUE[kind][0]


def test_the_neighbours_all_load_and_nothing_is_lost(loaded):
    elt, offsets = loaded
    good = len(CATALOGUE) + 1
    quarantined = sum(1 for v in CATALOGUE.values() if v[3] is not None)
    assert elt.table("lib_server_game").num_rows == good
    assert elt.table("quarantine").num_rows == quarantined
    assert elt.table("buffer_meta").num_rows == good + len(CATALOGUE)
    assert elt.table("log_meta").num_rows == good + len(CATALOGUE) - quarantined
