"""The native module judges as the DuckDB path does, only more cautiously, and its CRC-32 is
zlib's. Pure Arrow in and out, no services.

A message the native module calls clean must be clean for DuckDB too, with the very same
columns and lobby rows; the reverse need not hold (it leaves unusual messages to the full
rules). tests/unit/test_fast_path.py then checks both against the full rules themselves.
"""

import os
import random
import zlib

import numpy as np
import pyarrow as pa
import pytest

from superhero_assets.core.parse import fast_path, native
from superhero_assets.core.parse.checksum import crc32_hex
from superhero_assets.core.parse.tables import connect
from superhero_tools.simulator import bulk
from superhero_tools.simulator.roster import load_roster
from tests.support import wire
from tests.support.mutations import good_messages, mutate

pytestmark = pytest.mark.skipif(
    not native.available(), reason=f"the native module is not built: {native.INSTALL_HINT}"
)


def test_ci_builds_the_native_module():
    # Skipped above when it is missing; in CI that must not happen silently.
    assert native.available() or not os.environ.get("CI")


_ATTACK_ONLY = (
    "user_token",
    "action",
    "enemy_token",
    "enemy_damage",
    "enemy_health_prior",
    "enemy_health_post",
)


def both(values: list[bytes]) -> tuple[native.Judged, native.Judged]:
    strings = pa.array(values, pa.binary()).cast(pa.string())
    return native.judge(strings), fast_path.judge_in_duckdb(pa.chunked_array([strings]), connect(1))


def assert_native_agrees(values: list[bytes]) -> float:
    """Checks the property on these values; the share the native module calls clean."""
    ours, duck = both(values)
    assert not (ours.clean & ~duck.clean).any(), "native calls clean what DuckDB does not"
    message = np.array(ours.columns["log_message"].to_pylist(), dtype=object)
    # The task's columns reach the output only for attacks (lib_server_game) and, for the
    # game token, matches (lib_server_lobby); for other messages they are never read.
    reaches = {
        **{name: message == "Attack Completed" for name in _ATTACK_ONLY},
        "game_token": np.isin(message, ["Attack Completed", "Starting Match"]),
    }
    for name, column in ours.columns.items():
        rows = pa.array(ours.clean & reaches.get(name, True))
        got, want = column.filter(rows), duck.columns[name].filter(rows)
        if isinstance(want, pa.ChunkedArray):
            want = want.combine_chunks()
        assert got.equals(want.cast(got.type)), name
    keep = pa.array(ours.clean[duck.participants["i"].to_numpy()])
    want = duck.participants.filter(keep)
    assert ours.participants.cast(want.schema).equals(want)
    return ours.clean.mean()


def assert_layouts_read_as_the_general_reader(values: list[bytes]) -> None:
    strings = pa.array(values, pa.binary()).cast(pa.string())
    fast, general = native.judge(strings), native.judge(strings, canonical=False)
    assert fast.clean.tolist() == general.clean.tolist()
    for name, column in general.columns.items():
        assert fast.columns[name].equals(column), name
    assert fast.participants.equals(general.participants)


def test_good_messages_are_all_clean():
    assert assert_native_agrees(good_messages() * 5) == 1.0
    assert_layouts_read_as_the_general_reader(good_messages())


@pytest.mark.parametrize("seed", range(6))
def test_mutated_messages(seed):
    rng = random.Random(seed)
    goods = good_messages()
    values = [mutate(rng.choice(goods), rng) for _ in range(500)] + goods
    assert assert_native_agrees(values) > 0.3
    assert_layouts_read_as_the_general_reader(values)


def test_hand_made_edge_cases():
    attack = wire.attack("g", "a", "b", 1, 2, 1)
    cases = [
        attack,
        attack + b" \n",  # trailing whitespace: still one document
        b" " + attack,  # leading whitespace: not an object at its first byte
        attack + b"x",
        attack.replace(b'"level"', b'"lev\\u0065l"'),  # an escaped key
        attack.replace(b'"level": "INFO", ', b'"level": "INFO", "level": "INFO", '),
        attack.replace(b'"INFO"', b'"IN\\u00c9"'),
        attack.replace(b'ENEMY_DAMAGE\\": 1', b'ENEMY_DAMAGE\\": 1e0'),
        attack.replace(b'ENEMY_DAMAGE\\": 1', b'ENEMY_DAMAGE\\": -1'),
        attack.replace(b'ENEMY_DAMAGE\\": 1', b'ENEMY_DAMAGE\\": 01'),
        b"[" * 40 + b"]" * 40,
        b'{"level": "INFO", "task": ' + b"[" * 40 + b"]" * 40 + b"}",
        b"",
        b"{}",
        b'{"a": "\x01"}',
    ]
    ours, duck = both(cases)
    assert ours.clean.tolist()[:2] == [True, True]
    assert not ours.clean[2:].any()
    assert_native_agrees(cases)
    assert_layouts_read_as_the_general_reader(cases)


def test_crc32_is_zlibs_on_slices_and_nulls():
    rng = np.random.default_rng(7)
    blobs = [rng.bytes(int(n)) for n in rng.integers(0, 3000, size=300)]
    values = pa.array([*blobs, None, b""], pa.binary())
    want = [None if v is None else f"{zlib.crc32(v):08x}" for v in values.to_pylist()]
    assert crc32_hex(values).to_pylist() == want
    assert crc32_hex(values.slice(5)).to_pylist() == want[5:]


def test_the_simulators_messages_are_read_in_its_own_layouts():
    """Every message but the matches takes the layout matcher: it is not dead code."""
    values: list[str] = []
    bulk.simulate(6000, 3, load_roster(), lambda _topic, value: values.append(value))
    judged = native.judge(pa.array(values, pa.string()))
    matches = sum('"log_message": "Starting Match"' in v for v in values)
    assert judged.clean.all()
    assert 0 < matches < len(values) and judged.canonical_rows == len(values) - matches
    assert_layouts_read_as_the_general_reader([v.encode() for v in values])


def test_a_null_value_is_never_clean_whatever_its_slot_holds():
    good = wire.attack("g", "a", "b", 1, 2, 1)
    full = pa.array([good.decode(), good.decode()], pa.string())
    _, offsets, data = full.buffers()
    validity = pa.py_buffer(bytes([0b01]))  # row 1 NULL, though its bytes are a message
    values = pa.Array.from_buffers(pa.string(), 2, [validity, offsets, data])
    assert native.judge(values).clean.tolist() == [True, False]


def test_the_native_functions_refuse_buffers_they_cannot_read_safely():
    import superhero_native

    offsets = memoryview(pa.array([0, 8], pa.int32()).buffers()[1]).cast("B")
    backwards = memoryview(bytearray(b"xxxxxxxxABCDEFGHSECRET!!"))[8:16][::-1]
    with pytest.raises(ValueError, match="contiguous"):
        superhero_native.crc32_hex(offsets, backwards, 0, 1)
    with pytest.raises(ValueError, match="offsets"):
        superhero_native.crc32_hex(offsets, memoryview(b"1234"), 0, 1)  # past the data
    empty = pa.Array.from_buffers(pa.binary(), 0, [None, pa.py_buffer(b""), pa.py_buffer(b"")])
    assert crc32_hex(empty).to_pylist() == []


def test_bytes_lent_without_a_copy_stay_read_only_and_alive():
    import ctypes
    import gc

    import superhero_native

    owned = superhero_native.Owned(b"values")
    arrow = pa.py_buffer(owned)
    view = memoryview(owned)
    assert view.readonly and bytes(view) == b"values" and len(owned) == 6
    with pytest.raises((BufferError, TypeError)):
        ctypes.c_char.from_buffer(owned)  # asks for a writable buffer
    del owned, view
    gc.collect()
    assert arrow.to_pybytes() == b"values"  # Arrow's buffer keeps the bytes alive
