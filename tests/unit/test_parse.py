"""Unit tests of the vectorized parser: pure Arrow in, Arrow out, no services."""

import json
import zlib

import pyarrow as pa
import pytest

from superhero_assets.core import contract
from superhero_assets.core.parse.tables import parse_batch
from tests.support import wire
from tests.support.strict_input import EDGES, STRICT


def parse(values, **kw):
    return parse_batch(wire.raw_table(values, **kw), "etl-test")


def test_every_output_has_exactly_the_contract_schema():
    out = parse([wire.attack("g", "a", "b", 1, 2, 1), b"junk"])
    for name, table in out.items():
        assert table.schema.equals(contract.TABLES[name]), name


def test_a_match_loads_into_log_meta_lobby_and_game():
    heroes = {"u1": (1, 26112, 3040000), "u2": (2, 297500, 1601600), "u3": (65535, 7, 9)}
    values = [wire.starting_match("g1", heroes)] * 3 + [
        wire.attack("g1", "u1", "u2", 26112, 1601600, 1575488),
        wire.dead_enemy("g1", "u1"),
        wire.cleaning("g1", "u1"),
    ]
    out = parse(values)
    assert out["quarantine"].num_rows == 0
    assert out["buffer_meta"].num_rows == out["log_meta"].num_rows == 6
    # Three copies of a three-player 'Starting Match': nine lobby rows.
    lobby = out["lib_server_lobby"].to_pylist()
    assert len(lobby) == 9
    assert lobby[0] == {
        "etl_id": "etl-test",
        "msg_id": "lib.server.game:0:0",
        "timestamp": lobby[0]["timestamp"],
        "game_token": "g1",
        "user_token": "u1",
        "superhero_id": 1,
        "superhero_attack": 26112,
        "superhero_health": 3040000,
    }
    assert str(lobby[0]["timestamp"]) == "2023-09-01 14:03:07"
    assert {r["superhero_id"] for r in lobby} == {1, 2, 65535}
    (game,) = out["lib_server_game"].to_pylist()
    assert (
        game["action"],
        game["enemy_token"],
        game["enemy_damage"],
        game["enemy_health_prior"],
        game["enemy_health_post"],
    ) == ("ATTACK", "u2", 26112, 1601600, 1575488)
    levels = [r["level"] for r in out["log_meta"].to_pylist()]
    assert levels == ["INFO"] * 4 + ["ERROR", "INFO"]
    assert str(out["log_meta"]["timestamp"][0]) == "2023-09-01 10:03:07.512000"


def test_buffer_meta_describes_each_message():
    value = wire.attack("g", "a", "b", 1, 2, 1)
    out = parse(
        [value], keys=[b"k1"], headers=[[{"key": "h", "value": b"v"}]], partition=3, first_offset=41
    )
    row = out["buffer_meta"].to_pylist()[0]
    assert row["checksum"] == f"{zlib.crc32(value):08x}"
    assert row["msg_id"] == "lib.server.game:3:41"
    assert (row["offset"], row["partition"], row["key"], row["headers"]) == (41, 3, "k1", ["h=v"])
    assert (row["serialized_key_size"], row["serialized_value_size"]) == (2, len(value))
    assert row["_is_protocol"] is False


BAD = [
    (b"not json", "value is not JSON"),
    (b"\xff\xfe{}", "value is not valid UTF-8"),
    (b"", "empty value"),
    (None, "empty value"),
    (b"[1, 2]", "value is a JSON array, not an object"),
    (
        wire.record_without_task(),
        "missing field task",
    ),
    (
        wire.record("lib.server.game", "Attack Completed", "{oops"),
        "field task is a string but not JSON",
    ),
    (wire.attack("g", "a", "b", "5", 2, 1), "ENEMY_DAMAGE must be a non-negative integer"),
    (wire.attack("g", "a", "b", -5, 2, 1), "ENEMY_DAMAGE is negative: -5"),
    (wire.attack("g", "a", "b", 5.5, 2, 1), "got double 5.5"),
    (wire.attack("g", "a", "b", 10**23, 2, 1), "within uint64, got double"),
    (
        wire.attack("g", "a", "b", 1, 2, 1, ts="2023-09-01T14:03:07"),
        'task.TIMESTAMP "2023-09-01T14:03:07" is not UTC time',
    ),
    (wire.attack("g", "a", "b", 1, 2, 1, ts="2023-09-01 14:03:07Z"), "is not UTC time"),
    (
        wire.record("x", "Attack Completed", "{}", ts="2023-09-01T10:03:07"),
        'field timestamp "2023-09-01T10:03:07" is not local ISO time',
    ),
    (wire.starting_match("g", {"u": (70000, 1, 1)}), "id is past uint16: 70000"),
    (wire.starting_match("g", {"u": (1, -1, 1)}), "attack is negative"),
    (
        json.dumps(
            {"level": 5, "timestamp": wire.LOCAL_TS, "name": "n", "log_message": "m", "task": "{}"}
        ).encode(),
        "field level must be a string, got ubigint",
    ),
]


@pytest.mark.parametrize(("value", "reason"), BAD, ids=[r for _, r in BAD])
def test_bad_input_is_quarantined_with_its_reason_while_neighbours_load(value, reason):
    good = wire.attack("g", "a", "b", 1, 2, 1)
    out = parse([good, value, good])
    (row,) = out["quarantine"].to_pylist()
    assert reason in row["error"]
    assert (row["offset"], row["value"]) == (1, value)
    assert out["lib_server_game"].num_rows == 2
    assert out["log_meta"].num_rows == 2
    assert out["buffer_meta"].num_rows == 3


@pytest.mark.parametrize("kind", list(STRICT))
def test_input_the_game_never_writes_is_quarantined_with_its_exact_reason(kind):
    value, reason = STRICT[kind]
    good = wire.attack("g", "a", "b", 1, 2, 1)
    for fast in (True, False):
        out = parse_batch(wire.raw_table([good, value, good]), "etl-test", fast=fast)
        assert out["quarantine"].to_pylist()[0]["error"] == reason
        assert out["quarantine"]["offset"].to_pylist() == [1]
        assert out["log_meta"]["msg_id"].to_pylist() == [f"lib.server.game:0:{i}" for i in (0, 2)]
        assert out["lib_server_game"].num_rows == 2
        assert out["lib_server_lobby"].num_rows == 0


def test_times_at_the_edges_of_years_0001_to_9999_load():
    out = parse(EDGES)
    assert out["quarantine"].num_rows == 0
    local = [str(t) for t in out["log_meta"]["timestamp"].cast("string").to_pylist()]
    assert local[0] == "9999-12-31 23:59:59.999" and local[2] == "0001-01-01 00:00:00.000"
    game = out["lib_server_game"]["timestamp"].cast("string").to_pylist()
    assert game == ["9999-12-31 23:59:59", "0001-01-01 00:00:00"]


def test_an_unknown_log_message_is_kept_in_log_meta():
    out = parse([wire.record("lib.server.game", "Power Up", "anything at all")])
    assert out["quarantine"].num_rows == 0
    assert out["log_meta"]["log_message"].to_pylist() == ["Power Up"]


def test_a_value_past_int16_is_nulled_in_buffer_meta_and_quarantined():
    big = wire.record("lib.server.game", "Power Up", "x" * 40_000)
    out = parse([big])
    row = out["buffer_meta"].to_pylist()[0]
    assert row["serialized_value_size"] is None
    (q,) = out["quarantine"].to_pylist()
    assert f"value is {len(big)} bytes, past int16" in q["error"]
    assert out["log_meta"].num_rows == 0


def test_binary_key_and_headers_are_quarantined_not_mangled():
    value = wire.attack("g", "a", "b", 1, 2, 1)
    out = parse([value], keys=[b"\xff\x00"], headers=[[{"key": "h", "value": b"\xfe"}]])
    (q,) = out["quarantine"].to_pylist()
    assert "key is not valid UTF-8" in q["error"]
    assert "a header value is not valid UTF-8" in q["error"]
    row = out["buffer_meta"].to_pylist()[0]
    assert row["key"] is None and row["headers"] == [None]


def test_empty_batch():
    out = parse_batch(contract.RAW_MESSAGES.empty_table(), "e")
    assert all(t.num_rows == 0 for t in out.values())
    assert isinstance(out["buffer_meta"], pa.Table)


@pytest.mark.parametrize("fast", [True, False])
def test_a_message_twice_in_one_batch_is_refused_not_loaded_twice(fast):
    match = wire.starting_match("g1", {"u1": (1, 2, 3), "u2": (2, 3, 4)})
    lobby = wire.raw_table([match, wire.cleaning("g1", "u1")], topic="lib.server.lobby")
    game = wire.raw_table([wire.dead_enemy("g1", "u1")], partition=1)
    # The same offset on another topic is another message: it loads.
    twin = wire.raw_table([wire.dead_enemy("g1", "u2")], topic="lib.server.lobby", partition=1)
    out = parse_batch(pa.concat_tables([game, lobby, twin]), "etl-test", fast=fast)
    assert out["buffer_meta"]["msg_id"].to_pylist() == [
        "lib.server.lobby:0:0",
        "lib.server.lobby:0:1",
        "lib.server.game:1:0",
        "lib.server.lobby:1:0",
    ]
    assert out["lib_server_lobby"].num_rows == 2
    with pytest.raises(ValueError, match=r"lib\.server\.lobby:0:0 more than once"):
        parse_batch(pa.concat_tables([lobby, game, lobby.slice(0, 1)]), "etl-test", fast=fast)
