"""The fast path gives exactly what the full rules give, on good and on broken messages.

Pure Arrow in, Arrow out (no services): every table parse_batch returns with the fast path
must equal, row for row, the tables of the full rules alone (fast=False). Every test runs
twice: with the native module judging the messages, and with DuckDB judging them.
"""

import json
import random

import pyarrow as pa
import pytest

from superhero_assets.core.parse import fast_path, native
from superhero_assets.core.parse.checksum import crc32_hex
from superhero_assets.core.parse.tables import connect, parse_batch
from superhero_tools.simulator import bulk
from superhero_tools.simulator.roster import load_roster
from tests.support import wire
from tests.support.mutations import ODD_TIMES, good_messages, mutate
from tests.support.strict_input import EDGES, STRICT


@pytest.fixture(autouse=True, params=["native", "duckdb"])
def judged_by(request, monkeypatch):
    """Which way the fast path judges messages: the native module, or DuckDB and Arrow."""
    if request.param == "native" and not native.available():
        pytest.skip(f"the native module is not built: {native.INSTALL_HINT}")
    monkeypatch.setenv("SUPERHERO_NATIVE", "1" if request.param == "native" else "0")
    return request.param


def split(values):
    """fast_path.split of these values, as parse_batch calls it."""
    raw = wire.raw_table(values)
    raw = raw.append_column("checksum", crc32_hex(raw["value"]))
    return fast_path.split(raw, "etl", connect())


def fast_share(values) -> float:
    """The share of the messages the fast path takes (so a test really exercises it)."""
    clean, _, _ = split(values)
    return (clean.num_rows if clean is not None else 0) / len(values)


def assert_same(values, **kw):
    raw = wire.raw_table(values, **kw)
    con = connect()
    fast = parse_batch(raw, "etl", con)
    full = parse_batch(raw, "etl", con, fast=False)
    for name in full:
        assert fast[name].schema.equals(full[name].schema), name
        for column in full[name].column_names:
            got, want = fast[name][column], full[name][column]
            assert got.equals(want), (name, column, _differences(got, want))


def _differences(got, want) -> list:
    """The first rows where two columns differ, as text (some timestamps are BC)."""
    got, want = (c.cast("string") if "timestamp" in str(c.type) else c for c in (got, want))
    pairs = enumerate(zip(got.to_pylist(), want.to_pylist(), strict=True))
    return [(i, g, w) for i, (g, w) in pairs if g != w][:5]


def test_good_messages_take_the_fast_path_and_match_the_full_rules():
    values = good_messages() * 3
    clean, lobby, rest = split(values)
    assert rest.num_rows == 0 and clean.num_rows == len(values)
    assert lobby.num_rows == 3 * 2  # three two-player matches
    assert_same(values)


@pytest.mark.parametrize("seed", range(8))
def test_mutated_messages_match_the_full_rules(seed):
    rng = random.Random(seed)
    goods = good_messages()
    values = [mutate(rng.choice(goods), rng) for _ in range(400)] + goods
    rng.shuffle(values)
    assert fast_share(values) > 0.3
    assert_same(values)


@pytest.mark.parametrize("odd", ODD_TIMES)
def test_each_odd_timestamp_matches_the_full_rules(odd):
    values = [
        wire.attack("g", "a", "b", 1, 2, 1, ts=odd),
        wire.record("lib.server.game", "Attack Completed", "{}", ts=odd),
        wire.record("lib.server.game", "Power Up", "x", ts=odd),
    ]
    assert_same(values)


def test_strict_input_matches_the_full_rules_and_its_neighbours_stay_fast():
    good = good_messages()
    values = [v for value, _ in STRICT.values() for v in (value, *good)] + EDGES
    clean, _, rest = split(values)
    assert rest.num_rows == len(STRICT)
    assert_same(values)


def test_native_and_duckdb_give_the_same_tables_for_strict_input(monkeypatch):
    monkeypatch.setenv("SUPERHERO_NATIVE", "1")
    if not native.available():
        pytest.skip(f"the native module is not built: {native.INSTALL_HINT}")
    raw = wire.raw_table([value for value, _ in STRICT.values()] + EDGES + good_messages())
    by_native = parse_batch(raw, "etl")
    monkeypatch.setenv("SUPERHERO_NATIVE", "0")
    by_duckdb = parse_batch(raw, "etl")
    assert by_native["quarantine"].num_rows == len(STRICT)
    for name, table in by_native.items():
        assert table.equals(by_duckdb[name]), name


def test_the_simulators_messages_are_not_searched_for_repeated_keys():
    """DuckDB's side searches (json_tree) only what is not in one of the game's layouts."""
    values: list[str] = []
    bulk.simulate(3000, 3, load_roster(), lambda _topic, value: values.append(value))
    con = connect()
    con.register("fast_in", pa.table({"s": pa.array(values, pa.string())}))
    parsed = con.sql(fast_path._LEAVES_SQL).to_arrow_table()
    assert parsed["search_value"].null_count == parsed["search_task"].null_count == len(values)
    assert any('"log_message": "Starting Match"' in v for v in values)


def test_one_impossible_date_leaves_the_rest_of_the_batch_on_the_fast_path():
    good = wire.attack("g", "a", "b", 1, 2, 1)
    feb30 = wire.attack("g", "a", "b", 1, 2, 1, ts="2023-02-30T14:03:07Z")
    values = [good] * 50 + [feb30] + [good] * 49
    assert fast_share(values) == 0.99
    assert_same(values)


def test_null_headers_match_the_full_rules():
    good = wire.attack("g", "a", "b", 1, 2, 1)
    assert_same([good, b"bad", good], headers=[None, [], []])
    assert_same([good], headers=[None])


def test_keys_headers_and_bad_utf8_match_the_full_rules():
    good = wire.attack("g", "a", "b", 1, 2, 1)
    assert_same([good, good], keys=[b"k", None], headers=[[], [{"key": "h", "value": b"v"}]])
    assert_same([good, b"\xff{}", good])


@pytest.mark.parametrize("seed", range(3))
def test_mutated_matches_match_the_full_rules(seed):
    rng = random.Random(seed)
    match = wire.starting_match("g1", {"u1": (1, 2, 3), "u2": (4, 5, 6), "u3": (65535, 0, 1)})
    values = [mutate(match, rng) for _ in range(300)] + [match]
    assert fast_share(values) > 0.2
    assert_same(values)


def test_an_escaped_participant_is_looked_up_by_its_text_not_its_escapes():
    # The participant is a backslash then "u00e9"; its JSON text is "\\u00e9", which is
    # also the text of another hero's key: only the participant's own hero may load.
    token, lookalike = "\\u00e9", "\\\\u00e9"
    match = json.loads(wire.starting_match("g1", {token: (1, 2, 3), lookalike: (4, 5, 6)}))
    task = json.loads(match["task"])
    task["PAYLOAD"]["PARTICIPANTS"] = [token]
    match["task"] = json.dumps(task)
    value = json.dumps(match).encode()
    assert_same([value])
    lobby = parse_batch(wire.raw_table([value]), "etl")["lib_server_lobby"].to_pylist()
    assert [(r["user_token"], r["superhero_id"]) for r in lobby] == [(token, 1)]


@pytest.mark.parametrize("size", [32767, 32768])
def test_values_at_the_int16_size_limit_match_the_full_rules(size):
    base = wire.record("lib.server.game", "Power Up", "")
    padded = wire.record("lib.server.game", "Power Up", "x" * (size - len(base)))
    assert len(padded) == size
    assert_same([padded, wire.attack("g", "a", "b", 1, 2, 1)])
