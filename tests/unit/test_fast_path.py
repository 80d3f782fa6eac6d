"""The fast path gives exactly what the full rules give, on good and on broken messages.

Pure Arrow in, Arrow out (no services): every table parse_batch returns with the fast path
must equal, row for row, the tables of the full rules alone (fast=False). Every test runs
twice: with the native module judging the messages, and with DuckDB judging them.
"""

import json
import random
import re

import pyarrow as pa
import pytest

from superhero_assets.core.parse import fast_path, native
from superhero_assets.core.parse.checksum import crc32_hex
from superhero_assets.core.parse.tables import connect, parse_batch
from superhero_tools.simulator import bulk
from superhero_tools.simulator.roster import load_roster
from tests.support import wire
from tests.support.strict_input import EDGES, STRICT

ODD_VALUES = [
    "5",
    5,
    5.5,
    -5,
    0,
    "",
    None,
    True,
    [],
    {},
    10**19 - 1,
    10**19,
    2**64 - 1,
    2**64,
    "1e3",
    "é",
    'a"b',
    "a\\b",
    "a/b",
    "\u2028",
    "x" * 300,
]
ODD_TIMES = [
    "2023-09-01T10:03:07.512345",
    "2023-09-01T10:03:07.512500",
    "1969-12-31T23:59:59.999500",
    "1969-12-31T23:59:59.998500",
    "2023-02-30T10:00:00.000000",
    "2023-09-01T24:00:00.000000",
    "2023-09-01T23:59:60.000000",
    "2023-9-01T10:00:00.000000",
    "2023-09-01T10:03:07.5",
    "2023-09-01T10:03:07",
    "2023-09-01 10:03:07.512345",
    "2023-09-01T10:03:07.512345Z",
    "0000-01-01T00:00:00.000000",
    "2024-02-29T23:59:59.999999",
    "2023-09-01T14:03:07Z",
    "2023-09-01T14:03:07",
    "2023-02-29T14:03:07Z",
    "2023-09-01T14:03:07+00:00",
    " 2023-09-01T14:03:07Z",
    "2023-9-1T14:03:07Z",
    "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59.999499",
    "9999-12-31T23:59:59.999500",
    "0001-01-01T00:00:00.000000",
    "2023-09-01T10:03:07.512345 ",
]
TASK_PATHS = [
    ("TIMESTAMP",),
    ("PAYLOAD", "GAME_TOKEN"),
    ("PAYLOAD", "USER_TOKEN"),
    ("STATUS", "ACTION"),
    ("STATUS", "DETAILS", "ENEMY_TOKEN"),
    ("STATUS", "DETAILS", "ENEMY_DAMAGE"),
    ("STATUS", "DETAILS", "ENEMY_HEALTH_PRIOR"),
    ("STATUS", "DETAILS", "ENEMY_HEALTH_POST"),
]
DROP = object()


@pytest.fixture(autouse=True, params=["native", "duckdb"])
def judged_by(request, monkeypatch):
    """Which way the fast path judges messages: the native module, or DuckDB and Arrow."""
    if request.param == "native" and not native.available():
        pytest.skip(f"the native module is not built: {native.INSTALL_HINT}")
    monkeypatch.setenv("SUPERHERO_NATIVE", "1" if request.param == "native" else "0")
    return request.param


def good_messages() -> list[bytes]:
    return [
        wire.attack("g1", "u1", "u2", 26112, 1601600, 1575488),
        wire.attack("g1", "u1", "u2", 0, 10**19 - 1, 10**19 - 1),
        wire.dead_enemy("g1", "u1"),
        wire.record("lib.server.lobby", "Game Timed Out", json.dumps(_timed_out())),
        wire.cleaning("g1", "u1"),
        wire.record("lib.server.game", "Power Up", "anything"),
        wire.starting_match("g1", {"u1": (1, 2, 3), "u2": (4, 5, 6)}),
    ]


def _timed_out() -> dict:
    return {"TIMESTAMP": wire.UTC_TS, "PAYLOAD": {"GAME_TOKEN": "g1"}, "STATUS": {"GAME": "X"}}


def mutate_match(task: dict, odd, rng: random.Random) -> None:
    """One random change of a 'Starting Match' task's participants or heroes."""
    payload = task["PAYLOAD"]
    tokens, heroes = payload["PARTICIPANTS"], payload["PARTICIPANTS_HEROS"]
    token = rng.choice(tokens) if tokens else "u1"
    hero = heroes.get(token) if isinstance(heroes.get(token), dict) else {}
    change = rng.randrange(6)
    if change == 0:
        key = rng.choice(["PARTICIPANTS", "PARTICIPANTS_HEROS"])
        payload.pop(key) if odd is DROP else payload.__setitem__(key, odd)
    elif change == 1:
        tokens.append(token if odd is DROP else odd)  # a repeated or an odd participant
    elif change == 2:
        heroes.pop(token, None) if odd is DROP else heroes.__setitem__(token, odd)
    elif change == 3:
        key = rng.choice(["id", "attack", "health"])
        hero.pop(key, None) if odd is DROP else hero.__setitem__(key, odd)
    elif change == 4:
        hero["id"] = rng.choice([65535, 65536, 0, 99999])
    else:
        tokens.clear() if rng.random() < 0.5 else tokens.__setitem__(0, "t\u00e9" + token)


def mutate(value: bytes, rng: random.Random) -> bytes:
    """One random change of a field of the value or of its task."""
    doc = json.loads(value)
    odd = rng.choice([*ODD_VALUES, *ODD_TIMES, DROP])
    task = doc.get("task")
    if doc.get("log_message") == "Starting Match" and rng.random() < 0.6:
        inner = json.loads(task)
        mutate_match(inner, odd, rng)
        doc["task"] = json.dumps(inner, ensure_ascii=rng.random() < 0.5)
    elif isinstance(task, str) and task.startswith("{") and rng.random() < 0.6:
        inner = json.loads(task)
        path = rng.choice(TASK_PATHS)
        node = inner
        for key in path[:-1]:
            node = node.setdefault(key, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node.pop(path[-1], None) if odd is DROP else node.__setitem__(path[-1], odd)
        doc["task"] = json.dumps(inner, ensure_ascii=rng.random() < 0.5)
    else:
        field = rng.choice(["level", "timestamp", "name", "log_message", "task"])
        doc.pop(field, None) if odd is DROP else doc.__setitem__(field, odd)
    text = json.dumps(doc, ensure_ascii=rng.random() < 0.5)
    if rng.random() < 0.1:
        text = repeat_a_key(text, rng)
    if rng.random() < 0.05:
        text = text[: rng.randrange(len(text))]  # cut short: not JSON
    return text.encode()


def repeat_a_key(text: str, rng: random.Random) -> str:
    """A member added before one of the value's or the task's: its key twice in an object."""
    key = rng.choice(list(re.finditer(r'(\\?"\w+\\?"): ', text)))
    return text[: key.start()] + key.group(1) + ": 0, " + text[key.start() :]


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
