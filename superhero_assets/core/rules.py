"""The validation rules and column mappings of the wire format, as DuckDB SQL fragments.

Each rule is one `WHEN condition THEN reason` line of a CASE, so a message's error is the
first rule it breaks, with a reason precise enough to fix the producer.
"""

from __future__ import annotations

KNOWN_TASK_MESSAGES = (
    "Starting Match",
    "Game Timed Out",
    "Attack Completed",
    "Attacked Dead Enemy",
)
_INT_TYPES = {"uint16": 65535, "uint64": None}


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def string_field(doc: str, path: str, label: str, guard: str = "") -> list[str]:
    """Rules for a field that must be present and a JSON string."""
    jt = f"json_type({doc}, {_lit(path)})"
    return [
        f"WHEN {guard}{jt} IS NULL THEN {_lit('missing field ' + label)}",
        f"WHEN {guard}{jt} <> 'VARCHAR' "
        f"THEN {_lit(f'field {label} must be a string, got ')} || lower({jt})",
    ]


def uint_field(doc: str, path: str, label: str, column_type: str, guard: str = "") -> list[str]:
    """Rules for a field that must be a JSON integer, not negative, and fit column_type."""
    jt = f"json_type({doc}, {_lit(path)})"
    raw = f"json_extract({doc}, {_lit(path)})::VARCHAR"
    rules = [
        f"WHEN {guard}{jt} IS NULL THEN {_lit('missing field ' + label)}",
        f"WHEN {guard}{jt} = 'BIGINT' THEN {_lit(f'field {label} is negative: ')} || {raw}",
        f"WHEN {guard}{jt} <> 'UBIGINT' THEN "
        f"{_lit(f'field {label} must be a non-negative integer within {column_type}, got ')}"
        f" || lower({jt}) || ' ' || {raw}",
    ]
    limit = _INT_TYPES[column_type]
    if limit is not None:
        rules.append(
            f"WHEN {guard}({doc} ->> {_lit(path)})::UBIGINT > {limit} "
            f"THEN {_lit(f'field {label} is past {column_type}: ')} || {raw}"
        )
    return rules


def content_error_sql() -> str:
    """The first content rule each message breaks, or NULL (columns of the `typed` table)."""
    rules = [
        "WHEN value IS NULL OR octet_length(value) = 0 THEN 'empty value'",
        "WHEN s IS NULL THEN 'value is not valid UTF-8'",
        "WHEN j IS NULL THEN 'value is not JSON'",
        "WHEN t_root <> 'OBJECT' THEN 'value is a JSON ' || lower(t_root) || ', not an object'",
    ]
    for field in ("level", "timestamp", "name", "log_message"):
        rules += string_field("j", f"$.{field}", field)
    rules += [
        "WHEN ts_local IS NULL THEN 'field timestamp ' || ts_text "
        "|| ' is not local ISO time with microseconds (%Y-%m-%dT%H:%M:%S.%f)'",
        "WHEN t_task IS NULL THEN 'missing field task'",
        # Unknown messages are kept in log_meta: their task is not ours to judge.
        f"WHEN log_message NOT IN ({', '.join(map(_lit, KNOWN_TASK_MESSAGES))}) THEN NULL",
        "WHEN t_task <> 'VARCHAR' THEN 'field task must be a JSON-encoded string, got ' "
        "|| lower(t_task)",
        "WHEN task IS NULL THEN 'field task is a string but not JSON'",
        "WHEN json_type(task) <> 'OBJECT' THEN 'field task is a JSON ' || lower(json_type(task))"
        " || ', not an object'",
    ]
    rules += string_field("task", "$.TIMESTAMP", "task.TIMESTAMP")
    rules.append(
        "WHEN ts_task IS NULL THEN 'field task.TIMESTAMP ' || (task ->> '$.TIMESTAMP') "
        "|| ' is not UTC time as %Y-%m-%dT%H:%M:%SZ'"
    )
    attack = "log_message = 'Attack Completed' AND "
    for path in (
        "PAYLOAD.GAME_TOKEN",
        "PAYLOAD.USER_TOKEN",
        "STATUS.ACTION",
        "STATUS.DETAILS.ENEMY_TOKEN",
    ):
        rules += string_field("task", f"$.{path}", f"task.{path}", attack)
    for path in ("ENEMY_DAMAGE", "ENEMY_HEALTH_PRIOR", "ENEMY_HEALTH_POST"):
        rules += uint_field(
            "task", f"$.STATUS.DETAILS.{path}", f"task.STATUS.DETAILS.{path}", "uint64", attack
        )
    start = "log_message = 'Starting Match' AND "
    rules += string_field("task", "$.PAYLOAD.GAME_TOKEN", "task.PAYLOAD.GAME_TOKEN", start)
    for path, kind in (("PARTICIPANTS", "ARRAY"), ("PARTICIPANTS_HEROS", "OBJECT")):
        rules.append(
            f"WHEN {start}json_type(task, '$.PAYLOAD.{path}') IS DISTINCT FROM '{kind}' "
            f"THEN 'field task.PAYLOAD.{path} must be a JSON {kind.lower()}'"
        )
    rules += [
        f"WHEN {start}json_array_length(task, '$.PAYLOAD.PARTICIPANTS') = 0 "
        "THEN 'field task.PAYLOAD.PARTICIPANTS is empty'",
        f"WHEN {start}participant_error IS NOT NULL THEN participant_error",
    ]
    return "CASE\n        " + "\n        ".join(rules) + "\n    END"


def participant_error_sql() -> str:
    """The first rule a Starting Match participant breaks (columns p and hero), or NULL."""
    label = "task.PAYLOAD.PARTICIPANTS_HEROS[participant]"
    rules = [
        "WHEN json_type(p) <> 'VARCHAR' THEN 'participant ' || p || ' is not a token string'",
        "WHEN hero IS NULL THEN 'PARTICIPANTS_HEROS has no hero for participant ' || (p ->> '$')",
        "WHEN json_type(hero) <> 'OBJECT' THEN 'the hero of participant ' || (p ->> '$') "
        "|| ' is not a JSON object'",
    ]
    rules += uint_field("hero", "$.id", f"{label}.id", "uint16")
    rules += uint_field("hero", "$.attack", f"{label}.attack", "uint64")
    rules += uint_field("hero", "$.health", f"{label}.health", "uint64")
    return "CASE " + " ".join(rules) + " END"


def buffer_meta_sql() -> str:
    """One row per message; a value that does not fit its column is NULL (and quarantined)."""
    return """
SELECT etl_id, msg_id, md5(value) AS checksum,
    list_transform(headers, lambda h: CASE WHEN h.value IS NULL THEN h.key
                                      ELSE h.key || '=' || try(decode(h.value)) END) AS headers,
    try(decode(key)) AS key,
    "offset"::UBIGINT AS "offset",
    CASE WHEN "partition" BETWEEN 0 AND 255 THEN "partition" END::UTINYINT AS "partition",
    CASE WHEN key IS NULL THEN -1 WHEN key_size <= 32767 THEN key_size END::SMALLINT
        AS serialized_key_size,
    CASE WHEN value IS NULL THEN -1 WHEN value_size <= 32767 THEN value_size END::SMALLINT
        AS serialized_value_size,
    "timestamp"::TIMESTAMP_MS AS "timestamp",
    timestamp_type::UTINYINT AS timestamp_type,
    topic,
    false AS _is_protocol
FROM msg ORDER BY "partition", "offset"
"""


def lobby_sql() -> str:
    """One row per participant of each loaded 'Starting Match'."""
    return """
SELECT m.etl_id, m.msg_id, m.ts_task::TIMESTAMP_S AS "timestamp",
    m.task ->> '$.PAYLOAD.GAME_TOKEN' AS game_token,
    p.p ->> '$' AS user_token,
    (p.hero ->> '$.id')::USMALLINT AS superhero_id,
    (p.hero ->> '$.attack')::UBIGINT AS superhero_attack,
    (p.hero ->> '$.health')::UBIGINT AS superhero_health
FROM msg m JOIN participants p USING (topic, "partition", "offset")
WHERE m.error = '' AND m.log_message = 'Starting Match'
ORDER BY m."partition", m."offset", p.p_index
"""


def game_sql() -> str:
    """One row per loaded 'Attack Completed'."""
    return """
SELECT etl_id, msg_id, ts_task::TIMESTAMP_S AS "timestamp",
    task ->> '$.PAYLOAD.GAME_TOKEN' AS game_token,
    task ->> '$.PAYLOAD.USER_TOKEN' AS user_token,
    task ->> '$.STATUS.ACTION' AS action,
    task ->> '$.STATUS.DETAILS.ENEMY_TOKEN' AS enemy_token,
    (task ->> '$.STATUS.DETAILS.ENEMY_DAMAGE')::UBIGINT AS enemy_damage,
    (task ->> '$.STATUS.DETAILS.ENEMY_HEALTH_PRIOR')::UBIGINT AS enemy_health_prior,
    (task ->> '$.STATUS.DETAILS.ENEMY_HEALTH_POST')::UBIGINT AS enemy_health_post
FROM msg WHERE error = '' AND log_message = 'Attack Completed'
ORDER BY "partition", "offset"
"""
