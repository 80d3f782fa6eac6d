"""Raw Kafka messages (an Arrow table) to the typed tables and quarantine, in whole batches.

All parsing is vectorized SQL in DuckDB over the Arrow batch: no Python loop per message.
Each message gets at most one error, the first rule it breaks, checked in a fixed order,
so a message is either loaded (one log_meta row, plus its lobby or game rows) or
quarantined (one row with the reason); never both, never neither. Numbers are checked by
their JSON type before any cast, because a cast would round 5.5 to 6 or read "5" as 5.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from superhero_assets.core import contract
from superhero_assets.core.rules import (
    buffer_meta_sql,
    content_error_sql,
    game_sql,
    lobby_sql,
    participant_error_sql,
)

_INT16_MAX = 32767
_UINT8_MAX = 255


def parse_batch(raw: pa.Table, etl_id: str) -> dict[str, pa.Table]:
    """Split one batch of raw messages into buffer_meta, log_meta, lobby, game and quarantine."""
    con = duckdb.connect(config={"threads": 2})
    try:
        con.register("raw", raw)
        con.execute(_TYPED, {"etl_id": etl_id})
        con.execute(_PARTICIPANTS)
        con.execute(_MSG)
        out = {
            "buffer_meta": con.sql(buffer_meta_sql()).to_arrow_table(),
            "log_meta": con.sql(_LOG_META).to_arrow_table(),
            "lib_server_lobby": con.sql(lobby_sql()).to_arrow_table(),
            "lib_server_game": con.sql(game_sql()).to_arrow_table(),
            "quarantine": con.sql(_QUARANTINE).to_arrow_table(),
        }
    finally:
        con.close()
    # The SQL already nulled or quarantined anything out of range, so a safe cast never fails;
    # if it ever did, that is a bug to hear about, not data to truncate.
    return {name: table.cast(contract.TABLES[name]) for name, table in out.items()}


_TYPED = """
CREATE TEMP TABLE typed AS
WITH decoded AS (
    SELECT topic, "partition", "offset", "timestamp", timestamp_type, key, headers, value,
           $etl_id AS etl_id,
           topic || ':' || "partition" || ':' || "offset" AS msg_id,
           try(decode(value)) AS s
    FROM raw
), parsed AS (
    SELECT *, CASE WHEN s IS NOT NULL THEN try(json(s)) END AS j FROM decoded
), fields AS (
    SELECT *,
        json_type(j) AS t_root,
        json_type(j, '$.task') AS t_task,
        j ->> '$.level' AS level,
        j ->> '$.timestamp' AS ts_text,
        j ->> '$.name' AS name,
        j ->> '$.log_message' AS log_message,
        CASE WHEN json_type(j, '$.task') = 'VARCHAR' THEN try(json(j ->> '$.task')) END AS task
    FROM parsed
)
SELECT *,
    try_strptime(ts_text, '%Y-%m-%dT%H:%M:%S.%f') AS ts_local,
    try_strptime(task ->> '$.TIMESTAMP', '%Y-%m-%dT%H:%M:%SZ') AS ts_task,
    octet_length(value) AS value_size,
    octet_length(key) AS key_size
FROM fields
"""

_PARTICIPANTS = """
CREATE TEMP TABLE participants AS
SELECT topic, "partition", "offset", p_index, p,
       json(from_json(heroes, '"MAP(VARCHAR, JSON)"')[p ->> '$']) AS hero
FROM (
    SELECT topic, "partition", "offset", task -> '$.PAYLOAD.PARTICIPANTS_HEROS' AS heroes,
           unnest(json_extract(task, '$.PAYLOAD.PARTICIPANTS[*]')) AS p,
           generate_subscripts(json_extract(task, '$.PAYLOAD.PARTICIPANTS[*]'), 1) AS p_index
    FROM typed
    WHERE log_message = 'Starting Match'
      AND json_type(task, '$.PAYLOAD.PARTICIPANTS') = 'ARRAY'
      AND json_type(task, '$.PAYLOAD.PARTICIPANTS_HEROS') = 'OBJECT'
)
"""

_MSG = f"""
CREATE TEMP TABLE msg AS
WITH participant_errors AS (
    SELECT topic, "partition", "offset",
           first(err ORDER BY p_index) FILTER (WHERE err IS NOT NULL) AS participant_error
    FROM (SELECT *, {participant_error_sql()} AS err FROM participants)
    GROUP BY ALL
)
SELECT typed.*, participant_error,
    concat_ws('; ',
        CASE WHEN value_size > {_INT16_MAX}
             THEN 'value is ' || value_size || ' bytes, past int16 serialized_value_size' END,
        CASE WHEN key_size > {_INT16_MAX}
             THEN 'key is ' || key_size || ' bytes, past int16 serialized_key_size' END,
        CASE WHEN "partition" > {_UINT8_MAX}
             THEN 'partition ' || "partition" || ' is past uint8' END,
        CASE WHEN key IS NOT NULL AND try(decode(key)) IS NULL THEN 'key is not valid UTF-8' END,
        CASE WHEN list_bool_or(list_transform(headers, lambda h: h.value IS NOT NULL
                                              AND try(decode(h.value)) IS NULL))
             THEN 'a header value is not valid UTF-8' END,
        {content_error_sql()}
    ) AS error
FROM typed
LEFT JOIN participant_errors USING (topic, "partition", "offset")
"""

_LOG_META = """
SELECT etl_id, msg_id, level, ts_local::TIMESTAMP_MS AS "timestamp", name, log_message
FROM msg WHERE error = '' ORDER BY "partition", "offset"
"""

_QUARANTINE = """
SELECT etl_id, msg_id, topic, "partition", "offset", "timestamp", error, value
FROM msg WHERE error <> '' ORDER BY "partition", "offset"
"""
