"""The common case parsed lean: messages that break no rule, told apart in one cheap pass.

`parse.parse_batch` runs every message through here first. Each value, and its task, is
parsed once, and a few plain conditions decide whether the message is *clean*: it breaks
none of the rules in `rules.py`. Clean messages get their output columns here (a clean
'Starting Match' its lobby rows too); every other message (bad input, a key or headers)
goes through the full rules in `parse.py`, which name the reason.

The judging is done by the native module (`native.py`) when it is built, else by DuckDB
(the JSON leaves) and Arrow kernels (the conditions) below, with `fast_lobby.py`.

A clean verdict is deliberately conservative: each condition implies the rule it stands
for passes (a string without escapes, a number of at most 19 digits, a timestamp of the
exact shape and range, no key twice in an object), so this path never loads what the full
rules would quarantine, and its columns equal theirs on every clean message;
tests/unit/test_fast_path.py checks both.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from superhero_assets.core import contract
from superhero_assets.core.parse import fast_keys, fast_lobby, native, strict
from superhero_assets.core.parse.leaves import (
    all_of,
    plain,
    round_to_ms,
    text,
    timestamp,
    uint,
    unless,
)
from superhero_assets.core.parse.rules import (
    KNOWN_TASK_MESSAGES,
    TASK_FIELDS,
    VALUE_FIELDS,
    path_list,
    sql_literal,
)

# Unknown messages are clean once the common fields are; known ones need their task too.
_UINT_FIELDS = ("enemy_damage", "enemy_health_prior", "enemy_health_post")
_STRING_FIELDS = ("game_token", "user_token", "action", "enemy_token")
_LOCAL_TS = f"^{contract.LOCAL_TIMESTAMP_SHAPE}$"
_UTC_TS = f"^{contract.TASK_TIMESTAMP_SHAPE}$"
_FIRST_TIME = datetime.fromisoformat(strict.FIRST_TIME)
_LOCAL_ROUNDS_PAST_9999 = datetime.fromisoformat(strict.LOCAL_ROUNDS_PAST_9999 + "00")

_TOP_LEAVES = [n for n in VALUE_FIELDS if n != "task"]
# Only parsing happens in SQL: the leaves of each value, and of each task worth reading.
_LEAVES_SQL = f"""
WITH doc AS (
    SELECT s, try(json_extract(s, {path_list(fast_keys.VALUE_PATHS)})) AS f FROM fast_in
), task AS (
    SELECT *, CASE WHEN f[4] IN ({", ".join(sql_literal(f'"{m}"') for m in KNOWN_TASK_MESSAGES)})
                    AND starts_with(f[5], '"') THEN f[5] ->> '$' END AS task_text
    FROM doc
), task_doc AS (
    SELECT *, CASE WHEN starts_with(task_text, '{{')
                   THEN try(json_extract(task_text, {path_list(fast_keys.TASK_PATHS)})) END AS k
    FROM task
), leaves AS (
    SELECT s, task_text, f IS NOT NULL AS parsed, k IS NOT NULL AS task_parsed,
        {", ".join(f"f[{i}]::VARCHAR AS f_{n}" for i, n in enumerate(fast_keys.VALUE_PATHS, 1))},
        {", ".join(f"k[{i}]::VARCHAR AS k_{n}" for i, n in enumerate(fast_keys.TASK_PATHS, 1))}
    FROM task_doc
)
SELECT starts_with(s, '{{') AND parsed AS object,
    {fast_keys.to_search_sql()},
    {", ".join(f"f_{n}" for n in _TOP_LEAVES)},
    f_task IS NOT NULL AS has_task,
    starts_with(task_text, '{{') AND task_parsed AS task_object,
    {", ".join(f"k_{n}" for n in TASK_FIELDS)}
FROM leaves
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
        values = raw["value"].cast(pa.string())
    except pa.ArrowInvalid:  # some value is not UTF-8: the full rules find which
        return None, None, raw
    # Filtering copies the values, so the usual case (every message plain, every message
    # clean) filters nothing.
    every_plain = pc.all(plain).as_py() is not False
    rows = raw if every_plain else raw.filter(plain)
    if rows.num_rows == 0:
        return None, None, raw
    values = values if every_plain else values.filter(plain)
    judged = native.judge(values) if native.available() else judge_in_duckdb(values, con)
    msg, clean, participants = _columns(rows, judged, etl_id)
    lobby = _lobby(msg, participants)
    if every_plain and clean.all():
        return msg, lobby, raw.slice(0, 0)
    # Judging keeps the input's row order, so judged rows line up with `rows`.
    judged_later = np.ones(raw.num_rows, dtype=bool)
    judged_later[np.flatnonzero(plain.to_numpy(zero_copy_only=False))[clean]] = False
    return msg.filter(clean), lobby, raw.filter(judged_later)


def judge_in_duckdb(values: pa.ChunkedArray, con: duckdb.DuckDBPyConnection) -> native.Judged:
    """What `native.judge` gives, from DuckDB's JSON leaves and Arrow kernels."""
    con.register("fast_in", pa.table({"s": values}))
    try:
        parsed = con.sql(_LEAVES_SQL).to_arrow_table()
    finally:
        con.unregister("fast_in")
    repeated_key = fast_keys.with_a_repeated_key(con, parsed)
    f = {n: parsed[f"f_{n}"] for n in VALUE_FIELDS if n != "task"}
    k = {n: parsed[f"k_{n}"] for n in TASK_FIELDS}
    message = text(f["log_message"])
    known = pc.is_in(message, pa.array(KNOWN_TASK_MESSAGES))
    attack = pc.equal(message, "Attack Completed")
    start = pc.equal(message, "Starting Match")
    ts_local = timestamp(text(f["timestamp"]), _LOCAL_TS, 26, "us")
    ts_task = timestamp(text(k["ts"]), _UTC_TS, 19, "s")
    numbers = {n: uint(k[n]) for n in _UINT_FIELDS}
    local_in_range = pc.and_(
        pc.greater_equal(ts_local, _FIRST_TIME), pc.less(ts_local, _LOCAL_ROUNDS_PAST_9999)
    )
    clean = all_of(
        parsed["object"],
        pa.array(~repeated_key),
        *(plain(f[n]) for n in ("level", "timestamp", "name", "log_message")),
        local_in_range,
        parsed["has_task"],
        unless(
            known,
            parsed["task_object"],
            plain(k["ts"]),
            pc.greater_equal(ts_task, _FIRST_TIME),
        ),
        unless(attack, *(plain(k[n]) for n in _STRING_FIELDS), *map(pc.is_valid, numbers.values())),
    )
    # A match is judged further only if everything else about it is clean.
    maybe_match = all_of(
        clean,
        start,
        plain(k["game_token"]),
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
    good_match, participants = fast_lobby.participants(con, starts, parsed.num_rows)
    clean = all_of(clean, unless(start, pa.array(good_match)))
    columns = {
        "level": text(f["level"]),
        "name": text(f["name"]),
        "log_message": message,
        "ts_local": ts_local,
        "ts_task": ts_task,
        **{c: text(k[c]) for c in _STRING_FIELDS},
        **{c: pc.if_else(attack, v, None) for c, v in numbers.items()},
    }
    return native.Judged(clean.to_numpy(zero_copy_only=False), columns, participants)


def _columns(
    rows: pa.Table, judged: native.Judged, etl_id: str
) -> tuple[pa.Table, np.ndarray, pa.Table]:
    """(the msg rows, which are clean, the clean matches' participants)."""
    size = pc.binary_length(rows["value"])
    in_range = all_of(
        pc.less_equal(size, contract.INT16_MAX),
        pc.less_equal(rows["partition"], contract.UINT8_MAX),
        pc.greater_equal(rows["partition"], 0),
    )
    clean = judged.clean & in_range.to_numpy(zero_copy_only=False)
    participants = judged.participants
    if participants.num_rows and not clean.all():
        participants = participants.filter(clean[participants["i"].to_numpy()])
    clean_mask = pa.array(clean)
    c = judged.columns
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
            "bm_partition": pc.if_else(clean_mask, rows["partition"], None).cast(pa.uint8()),
            "serialized_key_size": pa.repeat(pa.scalar(-1, pa.int16()), n),
            "serialized_value_size": pc.if_else(clean_mask, size, None).cast(pa.int16()),
            "bm_timestamp": rows["timestamp"],
            "timestamp_type": rows["timestamp_type"].cast(pa.uint8()),
            "_is_protocol": pa.repeat(pa.scalar(False), n),
            "level": c["level"],
            "ts_local": round_to_ms(c["ts_local"]),
            "name": c["name"],
            "log_message": c["log_message"],
            "ts_task": c["ts_task"],
            **{name: c[name] for name in _STRING_FIELDS},
            **{name: c[name] for name in _UINT_FIELDS},
        }
    )
    return msg, clean, participants


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
