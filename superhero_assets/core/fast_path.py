"""The common case parsed lean: messages that break no rule, told apart in one cheap pass.

`parse.parse_batch` runs every message through here first. DuckDB parses each value, and
its task, once (the JSON leaves the rules look at); Arrow kernels then decide, with a few
plain conditions, whether the message is *clean*: it breaks none of the rules in
`rules.py`. Clean messages get their output columns here (a clean 'Starting Match' its
lobby rows too, in `fast_lobby.py`); every other message (bad input, a key or headers)
goes through the full rules in `parse.py`, which name the reason.

A clean verdict is deliberately conservative: each condition implies the rule it stands
for passes (a string without escapes, a number of at most 19 digits, a timestamp of the
exact shape), so this path never loads what the full rules would quarantine, and its
columns equal theirs on every clean message; tests/test_fast_path.py checks both.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from superhero_assets.core import fast_lobby
from superhero_assets.core.rules import (
    KNOWN_TASK_MESSAGES,
    TASK_FIELDS,
    VALUE_FIELDS,
    _lit,
    path_list,
)

# Unknown messages are clean once the common fields are; known ones need their task too.
_UINT_FIELDS = ("enemy_damage", "enemy_health_prior", "enemy_health_post")
_STRING_FIELDS = ("game_token", "user_token", "action", "enemy_token")
_LOCAL_TS = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$"  # %Y-%m-%dT%H:%M:%S.%f, 6 digits
_UTC_TS = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"  # %Y-%m-%dT%H:%M:%SZ

_TOP_LEAVES = [(i, n) for i, n in enumerate(VALUE_FIELDS, start=1) if n != "task"]
# Only parsing happens in SQL: the leaves of each value, and of each task worth reading.
_LEAVES_SQL = f"""
WITH doc AS (
    SELECT s, try(json_extract(s, {path_list(VALUE_FIELDS)})) AS f FROM fast_in
), task AS (
    SELECT *, CASE WHEN f[4] IN ({", ".join(_lit(f'"{m}"') for m in KNOWN_TASK_MESSAGES)})
                    AND starts_with(f[5], '"') THEN f[5] ->> '$' END AS task_text
    FROM doc
), task_doc AS (
    SELECT *, CASE WHEN starts_with(task_text, '{{')
                   THEN try(json_extract(task_text, {path_list(TASK_FIELDS)})) END AS k
    FROM task
)
SELECT starts_with(s, '{{') AND f IS NOT NULL AS object,
    {", ".join(f"f[{i}]::VARCHAR AS f_{n}" for i, n in _TOP_LEAVES)},
    f[5] IS NOT NULL AS has_task,
    starts_with(task_text, '{{') AND k IS NOT NULL AS task_object,
    {", ".join(f"k[{i}]::VARCHAR AS k_{n}" for i, n in enumerate(TASK_FIELDS, start=1))}
FROM task_doc
"""


def split(
    raw: pa.Table, etl_id: str, con: duckdb.DuckDBPyConnection
) -> tuple[pa.Table | None, pa.Table | None, pa.Table]:
    """(clean messages' `msg` rows, their lobby rows, the raw messages for the full rules).

    The lobby rows carry partition, offset and p_index, to be put in order with others.

    Messages with a key or headers, and whole batches with a value that is not UTF-8,
    are left to the full rules: they are rare, and the rules say exactly what is wrong.
    """
    no_headers = pc.fill_null(pc.equal(pc.list_value_length(raw["headers"]), 0), False)
    plain = pc.and_(pc.is_null(raw["key"]), no_headers)
    try:
        text = raw["value"].cast(pa.string())
    except pa.ArrowInvalid:  # some value is not UTF-8: the full rules find which
        return None, None, raw
    # Filtering copies the values, so the usual case (every message plain, every message
    # clean) filters nothing.
    every_plain = pc.all(plain).as_py() is not False
    rows = raw if every_plain else raw.filter(plain)
    if rows.num_rows == 0:
        return None, None, raw
    con.register("fast_in", pa.table({"s": text if every_plain else text.filter(plain)}))
    try:
        parsed = con.sql(_LEAVES_SQL).to_arrow_table()
    finally:
        con.unregister("fast_in")
    msg, clean, participants = _columns(rows, parsed, etl_id, con)
    lobby = _lobby(msg, participants)
    if every_plain and clean.all():
        return msg, lobby, raw.slice(0, 0)
    # DuckDB keeps the input's row order, so parsed rows line up with `rows`.
    judged = np.ones(raw.num_rows, dtype=bool)
    judged[np.flatnonzero(plain.to_numpy(zero_copy_only=False))[clean]] = False
    return msg.filter(clean), lobby, raw.filter(judged)


def _columns(
    rows: pa.Table, parsed: pa.Table, etl_id: str, con: duckdb.DuckDBPyConnection
) -> tuple[pa.Table, np.ndarray, pa.Table]:
    f = {n: parsed[f"f_{n}"] for n in VALUE_FIELDS if n != "task"}
    k = {n: parsed[f"k_{n}"] for n in TASK_FIELDS}
    message = _text(f["log_message"])
    known = pc.is_in(message, pa.array(KNOWN_TASK_MESSAGES))
    attack = pc.equal(message, "Attack Completed")
    start = pc.equal(message, "Starting Match")
    ts_local = _timestamp(_text(f["timestamp"]), _LOCAL_TS, 26, "us")
    ts_task = _timestamp(_text(k["ts"]), _UTC_TS, 19, "s")
    numbers = {n: _uint(k[n]) for n in _UINT_FIELDS}
    size = pc.binary_length(rows["value"])
    clean = _all(
        parsed["object"],
        pc.less_equal(size, 32767),
        pc.less_equal(rows["partition"], 255),
        pc.greater_equal(rows["partition"], 0),
        *(_plain(f[n]) for n in ("level", "timestamp", "name", "log_message")),
        pc.is_valid(ts_local),
        parsed["has_task"],
        _unless(known, parsed["task_object"], _plain(k["ts"]), pc.is_valid(ts_task)),
        _unless(
            attack, *(_plain(k[n]) for n in _STRING_FIELDS), *map(pc.is_valid, numbers.values())
        ),
    )
    # A match is judged further only if everything else about it is clean.
    maybe_match = _all(
        clean,
        start,
        _plain(k["game_token"]),
        pc.starts_with(k["participants"], "["),
        pc.starts_with(k["heroes"], "{"),
    )
    candidates = pc.indices_nonzero(maybe_match)
    starts = pa.table(
        {
            "i": candidates.cast(pa.int64()),
            "k_participants": k["participants"].take(candidates),
            "k_heroes": k["heroes"].take(candidates),
        }
    )
    good_match, participants = fast_lobby.participants(con, starts, rows.num_rows, _uint)
    clean = _all(clean, _unless(start, pa.array(good_match)))
    n = rows.num_rows
    msg = pa.table(
        {
            "etl_id": pa.repeat(pa.scalar(etl_id), n),
            "msg_id": pc.binary_join_element_wise(
                rows["topic"],
                rows["partition"].cast(pa.string()),
                rows["offset"].cast(pa.string()),
                ":",
            ),
            "topic": rows["topic"],
            "partition": rows["partition"],
            "offset": rows["offset"],
            "timestamp": rows["timestamp"],
            "error": pa.repeat(pa.scalar(""), n),
            "value": pa.nulls(n, pa.binary()),
            "checksum": rows["checksum"],
            "headers_text": pa.ListArray.from_arrays(
                pa.repeat(pa.scalar(0, pa.int32()), n + 1), pa.array([], pa.string())
            ),
            "key_text": pa.nulls(n, pa.string()),
            "bm_offset": rows["offset"].cast(pa.uint64()),
            "bm_partition": pc.if_else(clean, rows["partition"], None).cast(pa.uint8()),
            "serialized_key_size": pa.repeat(pa.scalar(-1, pa.int16()), n),
            "serialized_value_size": pc.if_else(clean, size, None).cast(pa.int16()),
            "bm_timestamp": rows["timestamp"],
            "timestamp_type": rows["timestamp_type"].cast(pa.uint8()),
            "_is_protocol": pa.repeat(pa.scalar(False), n),
            "level": _text(f["level"]),
            "ts_local": _round_to_ms(ts_local),
            "name": _text(f["name"]),
            "log_message": message,
            "ts_task": ts_task,
            **{c: _text(k[c]) for c in _STRING_FIELDS},
            **{c: pc.if_else(attack, v, None) for c, v in numbers.items()},
        }
    )
    return msg, clean.to_numpy(zero_copy_only=False), participants


def _lobby(msg: pa.Table, participants: pa.Table) -> pa.Table:
    """Lobby rows of the clean matches, with their message's place for ordering."""
    i = participants["i"]
    return pa.table(
        {
            "etl_id": msg["etl_id"].take(i),
            "msg_id": msg["msg_id"].take(i),
            "timestamp": msg["ts_task"].take(i),
            "game_token": msg["game_token"].take(i),
            **{c: participants[c] for c in ("user_token", "superhero_id")},
            **{c: participants[c] for c in ("superhero_attack", "superhero_health")},
            "partition": msg["partition"].take(i),
            "offset": msg["offset"].take(i),
            "p_index": participants["p_index"],
        }
    )


def _all(*conditions) -> pa.ChunkedArray:
    """True where every condition holds; unknown (NULL) counts as not clean."""
    result = conditions[0]
    for condition in conditions[1:]:
        result = pc.and_kleene(result, condition)
    return pc.fill_null(result, False)


def _unless(kind, *conditions):
    """Conditions that matter only for messages of this kind."""
    return pc.or_kleene(pc.invert(pc.fill_null(kind, False)), _all(*conditions))


def _plain(leaf):
    """A JSON string leaf with nothing escaped: its text is the leaf without its quotes."""
    return pc.and_(pc.starts_with(leaf, '"'), pc.invert(pc.match_substring(leaf, "\\")))


def _text(leaf):
    return pc.utf8_slice_codeunits(leaf, 1, -1)


def _uint(leaf):
    """The leaf as uint64 when it is at most 19 digits (surely a JSON integer in range)."""
    digits = pc.fill_null(pc.match_substring_regex(leaf, r"^\d{1,19}$"), False)
    return pc.if_else(digits, leaf, None).cast(pa.uint64())


def _timestamp(text, shape: str, width: int, unit: str):
    """Text of exactly this shape as a timestamp; NULL for any other.

    Arrow's ISO parser agrees with strptime on text of the exact shape, and refuses the
    same impossible dates (Feb 30, 24:00), which the full rules then judge.
    """
    shaped = pc.fill_null(pc.match_substring_regex(text, shape), False)
    candidates = pc.if_else(shaped, pc.utf8_slice_codeunits(text, 0, width), None)
    if isinstance(candidates, pa.ChunkedArray):
        candidates = candidates.combine_chunks()
    return _strict_cast(candidates, pa.timestamp(unit))


def _strict_cast(text: pa.Array, to: pa.DataType) -> pa.Array:
    """text cast with Arrow's strict parser, NULL where it refuses a value.

    The cast fails a whole array for one impossible date, so a refused array is halved
    until the refused values are alone: a few dozen casts for a few bad values.
    """
    try:
        return text.cast(to)
    except pa.ArrowInvalid:
        if len(text) <= 1:
            return pa.nulls(len(text), to)
        half = len(text) // 2
        return pa.concat_arrays(
            [_strict_cast(text.slice(0, half), to), _strict_cast(text.slice(half), to)]
        )


def _round_to_ms(micros):
    """As DuckDB's cast to TIMESTAMP_MS: to the nearest millisecond, halves away from zero."""
    rounded = pc.round_to_multiple(
        micros.cast(pa.int64()), multiple=1000, round_mode="half_towards_infinity"
    )
    return pc.divide(rounded, 1000).cast(pa.timestamp("ms"))
