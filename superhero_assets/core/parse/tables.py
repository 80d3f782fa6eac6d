"""Raw Kafka messages (an Arrow table) to the typed tables and quarantine, in whole batches.

All parsing is vectorized SQL in DuckDB over the Arrow batch: no Python loop per message.
Each message gets at most one error, the first rule it breaks, checked in a fixed order,
so a message is either loaded (one log_meta row, plus its lobby or game rows) or
quarantined (one row with the reason); never both, never neither. Numbers are checked by
their JSON type before any cast, because a cast would round 5.5 to 6 or read "5" as 5.

Speed: each value is parsed once, and its task once: `json_extract` with a list of paths
gives every field the rules need as a small JSON leaf, and the rules look at the leaves
(a string is told by its quote) instead of parsing the text again. One narrow row per
message is kept (`msg`, in offset order); the value itself only for a quarantined message.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from superhero_assets.core import contract
from superhero_assets.core.parse import fast_path, strict
from superhero_assets.core.parse.checksum import crc32_hex
from superhero_assets.core.parse.rules import (
    HERO_FIELDS,
    KNOWN_TASK_MESSAGES,
    TASK_FIELDS,
    VALUE_FIELDS,
    content_error_sql,
    json_root_type,
    jstr,
    leaf_types,
    leaves,
    lobby_sql,
    participant_error_sql,
    path_list,
    sql_literal,
)


def connect(threads: int = 2) -> duckdb.DuckDBPyConnection:
    """A connection for parse_batch; reuse it across batches (one per thread)."""
    return duckdb.connect(config={"threads": threads})


def parse_batch(
    raw: pa.Table, etl_id: str, con: duckdb.DuckDBPyConnection | None = None, fast: bool = True
) -> dict[str, pa.Table]:
    """Split one batch of raw messages into buffer_meta, log_meta, lobby, game and quarantine.

    fast=False judges every message with the full rules (the fast path's reference).
    """
    own = con is None
    con = connect() if own else con
    try:
        raw = _in_offset_order(raw)
        raw = raw.append_column("checksum", crc32_hex(raw["value"]))
        clean, clean_lobby, rest = fast_path.split(raw, etl_id, con) if fast else (None, None, raw)
        judged = _judge(rest, etl_id, con) if rest.num_rows or clean is None else None
    finally:
        if own:
            con.close()
    msg, lobby = judged or (clean, clean_lobby)
    if judged and clean is not None and clean.num_rows:
        msg = _in_offset_order(pa.concat_tables([clean.cast(msg.schema), msg]))
        lobby = pa.concat_tables([clean_lobby.cast(lobby.schema), lobby])
    lobby = lobby.sort_by(
        [("partition", "ascending"), ("offset", "ascending"), ("p_index", "ascending")]
    )
    ok = pc.equal(msg["error"], "")
    out = {
        "buffer_meta": _columns(msg, BUFFER_META_COLUMNS),
        "log_meta": _columns(msg, LOG_META_COLUMNS, ok),
        "lib_server_lobby": lobby.select(contract.LIB_SERVER_LOBBY.names),
        "lib_server_game": _columns(
            msg, GAME_COLUMNS, pc.and_(ok, pc.equal(msg["log_message"], "Attack Completed"))
        ),
        "quarantine": _columns(msg, QUARANTINE_COLUMNS, pc.invert(ok)),
    }
    # The SQL already nulled or quarantined anything out of range, so a safe cast never fails;
    # if it ever did, that is a bug to hear about, not data to truncate.
    return {name: _as(table, contract.TABLES[name]) for name, table in out.items()}


def _as(table: pa.Table, schema: pa.Schema) -> pa.Table:
    return table if table.schema.equals(schema) else table.cast(schema)


def _judge(raw: pa.Table, etl_id: str, con: duckdb.DuckDBPyConnection):
    """Every rule, on the messages the fast path left: (msg, lobby rows)."""
    con.register("raw", raw)
    try:
        con.execute(_PARTICIPANTS)
        msg = _in_offset_order(con.sql(_MSG, params={"etl_id": etl_id}).to_arrow_table())
        con.register("msg", msg)
        return msg, con.sql(lobby_sql()).to_arrow_table()
    finally:
        con.execute("DROP TABLE IF EXISTS participants")
        con.unregister("raw")
        con.unregister("msg")


def _columns(msg: pa.Table, columns: dict[str, str], rows: pa.ChunkedArray | None = None):
    """The output's columns (keys) from the msg columns (values), only the rows selected."""
    table = pa.Table.from_arrays([msg[c] for c in columns.values()], names=list(columns))
    # Filtering copies every column: skip it when every row is selected (the usual batch).
    # (NULL selects nothing, as in filter(), hence skip_nulls=False.)
    everything = rows is None or pc.all(rows, skip_nulls=False).as_py() is True
    return table if everything else table.filter(rows)


def _in_offset_order(raw: pa.Table) -> pa.Table:
    """Every output is in (partition, offset) order; a chunk read from Kafka already is.

    A message twice in one batch is refused, not loaded twice.
    """
    if raw.num_rows < 2:
        return raw
    part, off = raw["partition"], raw["offset"]
    bounds = pc.min_max(part)
    if bounds["min"] == bounds["max"] and pc.all(pc.greater(off[1:], off[:-1])).as_py():
        return raw
    keys = ("partition", "offset", "topic")  # topic last: it puts repeats side by side
    ordered = raw.sort_by([(k, "ascending") for k in keys])
    t, p, o = (ordered[k] for k in ("topic", "partition", "offset"))
    repeats = pc.and_(
        pc.and_(pc.equal(p[1:], p[:-1]), pc.equal(o[1:], o[:-1])), pc.equal(t[1:], t[:-1])
    )
    if pc.any(repeats).as_py():
        i = pc.index(repeats, True).as_py()
        raise ValueError(
            f"a batch holds {t[i]}:{p[i]}:{o[i]} more than once; nothing was written. Reading"
            " refuses to go back, so this is a bug in what built the batch: please report it."
        )
    return ordered


_KNOWN = ", ".join(map(sql_literal, KNOWN_TASK_MESSAGES))


def _fields(where: str = "") -> str:
    """CTEs that end in `fields`: each message's leaves, their types and the parsed times."""
    return f"""
decoded AS (
    SELECT topic, "partition", "offset", "timestamp", timestamp_type, key, headers, value,
           checksum, try(decode(value)) AS s
    FROM raw {where}
), doc AS (
    SELECT *, CASE WHEN s IS NOT NULL THEN try(json_extract(s, {path_list(VALUE_FIELDS)})) END
              AS f
    FROM decoded
), top AS (
    SELECT *, {leaves("f", VALUE_FIELDS, "f_")} FROM doc
), top_t AS (
    SELECT *,
        CASE WHEN f IS NOT NULL THEN {json_root_type("s")} END AS t_root,
        {leaf_types(VALUE_FIELDS, "f_")},
        {jstr("f_level")} AS level,
        {jstr("f_timestamp")} AS ts_text,
        {jstr("f_name")} AS name,
        {jstr("f_log_message")} AS log_message
    FROM top
), task AS (
    -- Only the tasks of known messages are read: the rules judge no other task.
    SELECT *, CASE WHEN f_task_t = 'VARCHAR' AND log_message IN ({_KNOWN})
                   THEN f_task ->> '$' END AS task_text
    FROM top_t
), task_doc AS (
    SELECT *, CASE WHEN task_text IS NOT NULL
                   THEN try(json_extract(task_text, {path_list(TASK_FIELDS)})) END AS k
    FROM task
), task_leaves AS (
    SELECT *,
        CASE WHEN k IS NOT NULL THEN {json_root_type("task_text")} END AS t_task_root,
        {leaves("k", TASK_FIELDS, "k_")}
    FROM task_doc
), fields AS (
    SELECT *, {leaf_types(TASK_FIELDS, "k_")},
        {jstr("k_ts")} AS task_ts_text
    FROM task_leaves
)"""


# Participants of whatever may be a 'Starting Match': the text says so, or escapes could hide
# it. Only those messages are read a second time, and only for this.
_MAYBE_START = (
    "WHERE contains(try(decode(value)), 'Starting Match') OR contains(try(decode(value)), '\\u')"
)
_PARTICIPANTS = f"""
CREATE OR REPLACE TEMP TABLE participants AS
WITH {_fields(_MAYBE_START)},
heroes AS (
    -- The heroes map is parsed once per message, then looked up for each participant.
    SELECT topic, "partition", "offset", p_index, p, {jstr("p")} AS p_text,
           json(hero_map[{jstr("p")}]) AS hero,
           row_number() OVER (PARTITION BY topic, "partition", "offset", {jstr("p")}
                              ORDER BY p_index) AS p_seen
    FROM (
        SELECT topic, "partition", "offset", hero_map,
               unnest(parts)::VARCHAR AS p, generate_subscripts(parts, 1) AS p_index
        FROM (
            SELECT topic, "partition", "offset",
                   json_extract(k_participants, '$[*]') AS parts,
                   from_json(k_heroes, '"MAP(VARCHAR, JSON)"') AS hero_map
            FROM fields
            WHERE log_message = 'Starting Match'
              AND k_participants_t = 'ARRAY'
              AND k_heroes_t = 'OBJECT'
        )
    )
), hero_leaves AS (
    SELECT *, json_type(hero) AS hero_t,
        CASE WHEN starts_with(hero, '{{') THEN json_extract(hero, {path_list(HERO_FIELDS)}) END
            AS h
    FROM heroes
), hero_fields AS (
    SELECT * EXCLUDE (h), {leaves("h", HERO_FIELDS, "h_")} FROM hero_leaves
), typed AS (
    SELECT *, {leaf_types(HERO_FIELDS, "h_")} FROM hero_fields
)
SELECT topic, "partition", "offset", p_index, p_text, h_id, h_attack, h_health,
       {participant_error_sql()} AS err
FROM typed
"""

# Only documents DuckDB parsed are walked: the value when it is JSON, a known task too.
_DUPLICATE_KEYS = strict.duplicate_keys_sql(
    """(SELECT topic, "partition", "offset", CASE WHEN f IS NOT NULL THEN s END AS value,
               CASE WHEN k IS NOT NULL THEN task_text END AS task FROM fields)""",
    'topic, "partition", "offset"',
)

_MSG = f"""
WITH {_fields()},
participant_errors AS (
    SELECT topic, "partition", "offset",
           first(err ORDER BY p_index) FILTER (WHERE err IS NOT NULL) AS participant_error
    FROM participants
    GROUP BY ALL
), duplicate_keys AS ({_DUPLICATE_KEYS}), typed AS (
    SELECT *,
        octet_length(value) AS value_size,
        octet_length(key) AS key_size,
        s IS NOT NULL AS utf8,
        f IS NOT NULL AS is_json,
        k IS NOT NULL AS task_is_json,
        CASE WHEN regexp_full_match(ts_text, '{contract.LOCAL_TIMESTAMP_SHAPE}')
             THEN try_strptime(ts_text, '{contract.LOCAL_TIMESTAMP_FORMAT}') END AS ts_local,
        CASE WHEN regexp_full_match(task_ts_text, '{contract.TASK_TIMESTAMP_SHAPE}')
             THEN try_strptime(task_ts_text, '{contract.TASK_TIMESTAMP_FORMAT}') END AS ts_task,
        try(decode(key)) AS key_text,
        CASE WHEN len(headers) = 0 THEN [] ELSE list_transform(headers, lambda h: CASE
            WHEN h.value IS NULL THEN h.key ELSE h.key || '=' || try(decode(h.value)) END) END
            AS headers_text
    FROM fields LEFT JOIN participant_errors USING (topic, "partition", "offset")
        LEFT JOIN duplicate_keys USING (topic, "partition", "offset")
), checked AS (
    SELECT *,
        concat_ws('; ',
            CASE WHEN value_size > {contract.INT16_MAX}
                 THEN 'value is ' || value_size || ' bytes, past int16 serialized_value_size' END,
            CASE WHEN key_size > {contract.INT16_MAX}
                 THEN 'key is ' || key_size || ' bytes, past int16 serialized_key_size' END,
            CASE WHEN "partition" > {contract.UINT8_MAX}
                 THEN 'partition ' || "partition" || ' is past uint8' END,
            CASE WHEN key IS NOT NULL AND key_text IS NULL THEN 'key is not valid UTF-8' END,
            CASE WHEN list_bool_or(list_transform(headers, lambda h: h.value IS NOT NULL
                                                  AND try(decode(h.value)) IS NULL))
                 THEN 'a header value is not valid UTF-8' END,
            {content_error_sql()}
        ) AS error
    FROM typed
)
SELECT $etl_id AS etl_id,
    topic || ':' || "partition" || ':' || "offset" AS msg_id,
    topic, "partition", "offset", "timestamp", error,
    CASE WHEN error <> '' THEN value END AS value,
    -- buffer_meta; a value that does not fit its column is NULL (and quarantined)
    checksum,
    headers_text,
    key_text,
    "offset"::UBIGINT AS bm_offset,
    CASE WHEN "partition" BETWEEN 0 AND {contract.UINT8_MAX} THEN "partition" END::UTINYINT
        AS bm_partition,
    CASE WHEN key IS NULL THEN -1 WHEN key_size <= {contract.INT16_MAX} THEN key_size END::SMALLINT
        AS serialized_key_size,
    CASE WHEN value IS NULL THEN -1 WHEN value_size <= {contract.INT16_MAX} THEN value_size
        END::SMALLINT
        AS serialized_value_size,
    "timestamp"::TIMESTAMP_MS AS bm_timestamp,
    timestamp_type::UTINYINT AS timestamp_type,
    false AS _is_protocol,
    -- log_meta
    level, ts_local::TIMESTAMP_MS AS ts_local, name, log_message,
    -- lib_server_game (and the lobby's timestamp and game token)
    ts_task::TIMESTAMP_S AS ts_task,
    {jstr("k_game_token")} AS game_token,
    {jstr("k_user_token")} AS user_token,
    {jstr("k_action")} AS action,
    {jstr("k_enemy_token")} AS enemy_token,
    CASE WHEN error = '' AND log_message = 'Attack Completed' THEN k_enemy_damage::UBIGINT END
        AS enemy_damage,
    CASE WHEN error = '' AND log_message = 'Attack Completed' THEN k_enemy_health_prior::UBIGINT END
        AS enemy_health_prior,
    CASE WHEN error = '' AND log_message = 'Attack Completed' THEN k_enemy_health_post::UBIGINT END
        AS enemy_health_post
FROM checked
"""

BUFFER_META_COLUMNS = {
    "etl_id": "etl_id",
    "msg_id": "msg_id",
    "checksum": "checksum",
    "headers": "headers_text",
    "key": "key_text",
    "offset": "bm_offset",
    "partition": "bm_partition",
    "serialized_key_size": "serialized_key_size",
    "serialized_value_size": "serialized_value_size",
    "timestamp": "bm_timestamp",
    "timestamp_type": "timestamp_type",
    "topic": "topic",
    "_is_protocol": "_is_protocol",
}
LOG_META_COLUMNS = {
    "etl_id": "etl_id",
    "msg_id": "msg_id",
    "level": "level",
    "timestamp": "ts_local",
    "name": "name",
    "log_message": "log_message",
}
GAME_COLUMNS = {
    "etl_id": "etl_id",
    "msg_id": "msg_id",
    "timestamp": "ts_task",
    **{c: c for c in ("game_token", "user_token", "action", "enemy_token")},
    **{c: c for c in ("enemy_damage", "enemy_health_prior", "enemy_health_post")},
}
QUARANTINE_COLUMNS = {
    c: c
    for c in ("etl_id", "msg_id", "topic", "partition", "offset", "timestamp", "error", "value")
}
