"""The optional Rust hot path (`native/`, module superhero_native), wrapped as Arrow arrays.

It does, in one pass per batch and without the GIL, what DuckDB and Arrow kernels do on the
fallback path: parse each value and its task, judge whether the message is clean (breaks
no rule, read conservatively: anything unusual is left to the full SQL rules) and give its
columns; and the CRC-32 of each value. `make venv` builds it when cargo is on PATH; without
it, or with SUPERHERO_NATIVE=0, the loader gives the same tables, only slower.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

try:
    import superhero_native as _rust
except ImportError:  # not built: the DuckDB path does the same work
    _rust = None

INSTALL_HINT = "run `make venv` with Rust's cargo on PATH (https://rustup.rs) to build it"


def available() -> bool:
    """True when the native module is built and not switched off (SUPERHERO_NATIVE=0)."""
    return _rust is not None and os.environ.get("SUPERHERO_NATIVE", "1") != "0"


@dataclass(frozen=True)
class Judged:
    """A batch judged: which messages are clean, their columns, their lobby rows.

    columns hold every row (NULL where not clean); participants only clean matches', with
    `i`, the row of their message.
    """

    clean: np.ndarray
    columns: dict[str, pa.Array]
    participants: pa.Table
    canonical_rows: int = 0  # read in one of the producer's own layouts (native only)


def value_buffers(values: pa.Array) -> tuple[memoryview, memoryview, int, int]:
    """(int32 offsets, bytes, first row, rows) of a binary or utf8 array, read in place."""
    if values.type not in (pa.binary(), pa.string()):
        values = values.cast(pa.binary())
    _, offsets, data = values.buffers()
    data_view = memoryview(data if data is not None else b"").cast("B")
    return memoryview(offsets).cast("B"), data_view, values.offset, len(values)


def single_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One array (a batch read from Kafka is one chunk: no copy then)."""
    if not isinstance(values, pa.ChunkedArray):
        return values
    return values.chunk(0) if values.num_chunks == 1 else values.combine_chunks()


def crc32_digits(values: pa.Array | pa.ChunkedArray) -> bytes:
    """8 hex digits per value, all in one string: value i is characters 8i..8i+8."""
    return _rust.crc32_hex(*value_buffers(single_array(values)))


def judge(values: pa.Array | pa.ChunkedArray, canonical: bool = True) -> Judged:
    """Every message of a batch (utf8 values, no key or headers) judged and split.

    canonical=False reads every message with the general reader, skipping the matcher of
    the producer's own layouts (for tests: both must give the same).
    """
    values = single_array(values)
    out = _rust.scan(*value_buffers(values), canonical=canonical)
    n = len(values)
    columns = {name: _text(n, out[name]) for name in ("level", "name", "log_message", *_TOKENS)}
    columns["ts_local"] = _fixed(n, out["ts_local"], pa.timestamp("us"))
    columns["ts_task"] = _fixed(n, out["ts_task"], pa.timestamp("s"))
    for name in _NUMBERS:
        columns[name] = _fixed(n, out[name], pa.uint64())
    m = len(out["p_row"]) // 8
    participants = pa.table(
        {
            "i": _plain(m, out["p_row"], pa.int64()),
            "p_index": _plain(m, out["p_index"], pa.int64()),
            "user_token": _text(m, out["p_user_token"]),
            "superhero_id": _plain(m, out["p_id"], pa.uint64()).cast(pa.uint16()),
            "superhero_attack": _plain(m, out["p_attack"], pa.uint64()),
            "superhero_health": _plain(m, out["p_health"], pa.uint64()),
        }
    )
    clean = np.frombuffer(out["clean"], dtype=np.uint8).astype(bool)
    if values.null_count:  # a NULL value (a tombstone) is never clean, whatever its slot holds
        clean &= values.is_valid().to_numpy(zero_copy_only=False)
    return Judged(clean, columns, participants, out["canonical_rows"])


_TOKENS = ("game_token", "user_token", "action", "enemy_token")
_NUMBERS = ("enemy_damage", "enemy_health_prior", "enemy_health_post")


def _text(n: int, parts: tuple[bytes, bytes, bytes]) -> pa.Array:
    validity, offsets, data = map(pa.py_buffer, parts)
    return pa.Array.from_buffers(pa.string(), n, [validity, offsets, data])


def _fixed(n: int, parts: tuple[bytes, bytes], type_: pa.DataType) -> pa.Array:
    validity, values = map(pa.py_buffer, parts)
    return pa.Array.from_buffers(type_, n, [validity, values])


def _plain(n: int, values: bytes, type_: pa.DataType) -> pa.Array:
    return pa.Array.from_buffers(type_, n, [None, pa.py_buffer(values)])


def kafka_reader(library: str, settings: list[tuple[str, str]], quiet: bool):
    """A librdkafka consumer in the native module; see core/kafka/native_reader.py."""
    return _rust.KafkaReader(library, settings, quiet)
