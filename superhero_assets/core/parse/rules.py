"""The validation rules and column mappings of the wire format, as DuckDB SQL fragments.

Each rule is one `WHEN condition THEN reason` line of a CASE, so a message's error is the
first rule it breaks, with a reason precise enough to fix the producer.

Each document is parsed once: `json_extract(doc, [paths])` returns every field the rules
need as a small JSON leaf (NULL when absent), in one pass of the parser. The rules then
test the JSON type of those leaves (`json_type` of a few bytes), never the whole text again.
"""

from __future__ import annotations

from superhero_assets.core import contract
from superhero_assets.core.parse import strict

KNOWN_TASK_MESSAGES = (
    contract.STARTING_MATCH,
    contract.GAME_TIMED_OUT,
    contract.ATTACK_COMPLETED,
    contract.ATTACKED_DEAD_ENEMY,
)
_INT_TYPES = {"uint16": contract.UINT16_MAX, "uint64": None}

# Leaves of the value (column prefix f_) and of the task (column prefix k_), in the order
# of the JSON path lists below: column name -> JSON path.
VALUE_FIELDS = {
    "level": "$.level",
    "timestamp": "$.timestamp",
    "name": "$.name",
    "log_message": "$.log_message",
    "task": "$.task",
}
TASK_FIELDS = {
    "ts": "$.TIMESTAMP",
    "game_token": "$.PAYLOAD.GAME_TOKEN",
    "user_token": "$.PAYLOAD.USER_TOKEN",
    "action": "$.STATUS.ACTION",
    "enemy_token": "$.STATUS.DETAILS.ENEMY_TOKEN",
    "enemy_damage": "$.STATUS.DETAILS.ENEMY_DAMAGE",
    "enemy_health_prior": "$.STATUS.DETAILS.ENEMY_HEALTH_PRIOR",
    "enemy_health_post": "$.STATUS.DETAILS.ENEMY_HEALTH_POST",
    "participants": "$.PAYLOAD.PARTICIPANTS",
    "heroes": "$.PAYLOAD.PARTICIPANTS_HEROS",
}
HERO_FIELDS = {"id": "$.id", "attack": "$.attack", "health": "$.health"}


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def path_list(fields: dict[str, str]) -> str:
    return "[" + ", ".join(map(sql_literal, fields.values())) + "]"


def jtype(leaf: str) -> str:
    """json_type of a leaf; a string is told by its quote, without parsing it."""
    return f"CASE WHEN starts_with({leaf}, '\"') THEN 'VARCHAR' ELSE json_type({leaf}) END"


def jstr(leaf: str) -> str:
    """leaf ->> '$' (a JSON string's text), without parsing when nothing is escaped."""
    return (
        f"CASE WHEN starts_with({leaf}, '\"') AND NOT contains({leaf}, '\\') "
        f"THEN substr({leaf}, 2, length({leaf}) - 2) ELSE {leaf} ->> '$' END"
    )


def leaves(doc_fields: str, fields: dict[str, str], prefix: str) -> str:
    """Columns {prefix}{name}: the JSON leaf at each path (NULL when absent)."""
    return ",\n    ".join(
        f"{doc_fields}[{i}]::VARCHAR AS {prefix}{name}" for i, name in enumerate(fields, start=1)
    )


def leaf_types(fields: dict[str, str], prefix: str) -> str:
    """Columns {prefix}{name}_t: the JSON type of each leaf."""
    return ",\n    ".join(f"{jtype(prefix + n)} AS {prefix}{n}_t" for n in fields)


def json_root_type(text: str) -> str:
    """json_type of a valid document, without parsing it when it visibly starts an object."""
    return f"CASE WHEN starts_with({text}, '{{') THEN 'OBJECT' ELSE json_type({text}) END"


def string_field(leaf: str, label: str, guard: str = "") -> list[str]:
    """Rules for a field that must be present and a JSON string (leaf: its leaf column)."""
    jt = f"{leaf}_t"
    return [
        f"WHEN {guard}{jt} IS NULL THEN {sql_literal('missing field ' + label)}",
        f"WHEN {guard}{jt} <> 'VARCHAR' "
        f"THEN {sql_literal(f'field {label} must be a string, got ')} || lower({jt})",
    ]


def uint_field(leaf: str, label: str, column_type: str, guard: str = "") -> list[str]:
    """Rules for a field that must be a JSON integer, not negative, and fit column_type."""
    jt = f"{leaf}_t"
    raw = f"{leaf}::VARCHAR"
    rules = [
        f"WHEN {guard}{jt} IS NULL THEN {sql_literal('missing field ' + label)}",
        f"WHEN {guard}{jt} = 'BIGINT' THEN {sql_literal(f'field {label} is negative: ')} || {raw}",
        f"WHEN {guard}{jt} <> 'UBIGINT' THEN "
        f"{sql_literal(f'field {label} must be a non-negative integer within {column_type}, got ')}"
        f" || lower({jt}) || ' ' || {raw}",
    ]
    limit = _INT_TYPES[column_type]
    if limit is not None:
        rules.append(
            f"WHEN {guard}{leaf}::UBIGINT > {limit} "
            f"THEN {sql_literal(f'field {label} is past {column_type}: ')} || {raw}"
        )
    return rules


def content_error_sql() -> str:
    """The first content rule each message breaks, or NULL (columns of the `typed` table)."""
    rules = [
        "WHEN value IS NULL OR value_size = 0 THEN 'empty value'",
        "WHEN NOT utf8 THEN 'value is not valid UTF-8'",
        "WHEN NOT is_json THEN 'value is not JSON'",
        "WHEN t_root <> 'OBJECT' THEN 'value is a JSON ' || lower(t_root) || ', not an object'",
        "WHEN value_duplicate IS NOT NULL THEN value_duplicate",
    ]
    for field in ("level", "timestamp", "name", "log_message"):
        rules += string_field(f"f_{field}", field)
    rules += [
        "WHEN ts_local IS NULL THEN 'field timestamp ' || to_json(ts_text) "
        f"|| ' is not local ISO time with microseconds ({contract.LOCAL_TIMESTAMP_SPELLED})'",
        f"WHEN NOT {strict.local_time_in_range('ts_local')} THEN 'field timestamp ' "
        f"|| to_json(ts_text) || ' is {strict.YEARS} once rounded to milliseconds'",
        "WHEN f_task_t IS NULL THEN 'missing field task'",
        # Unknown messages are kept in log_meta: their task is not ours to judge.
        f"WHEN log_message NOT IN ({', '.join(map(sql_literal, KNOWN_TASK_MESSAGES))}) THEN NULL",
        "WHEN f_task_t <> 'VARCHAR' THEN 'field task must be a JSON-encoded string, got ' "
        "|| lower(f_task_t)",
        "WHEN NOT task_is_json THEN 'field task is a string but not JSON'",
        "WHEN t_task_root <> 'OBJECT' THEN 'field task is a JSON ' || lower(t_task_root)"
        " || ', not an object'",
        "WHEN task_duplicate IS NOT NULL THEN task_duplicate",
    ]
    rules += string_field("k_ts", "task.TIMESTAMP")
    rules += [
        "WHEN ts_task IS NULL THEN 'field task.TIMESTAMP ' || to_json(task_ts_text) "
        f"|| ' is not UTC time as {contract.TASK_TIMESTAMP_SPELLED}'",
        f"WHEN NOT {strict.utc_time_in_range('ts_task')} THEN 'field task.TIMESTAMP ' "
        f"|| to_json(task_ts_text) || ' is {strict.YEARS}'",
    ]
    attack = "log_message = 'Attack Completed' AND "
    for name in ("game_token", "user_token", "action", "enemy_token"):
        rules += string_field(f"k_{name}", f"task.{TASK_FIELDS[name][2:]}", attack)
    for name in ("enemy_damage", "enemy_health_prior", "enemy_health_post"):
        rules += uint_field(f"k_{name}", f"task.{TASK_FIELDS[name][2:]}", "uint64", attack)
    start = "log_message = 'Starting Match' AND "
    rules += string_field("k_game_token", "task.PAYLOAD.GAME_TOKEN", start)
    for name, path, kind in (
        ("participants", "PARTICIPANTS", "ARRAY"),
        ("heroes", "PARTICIPANTS_HEROS", "OBJECT"),
    ):
        rules.append(
            f"WHEN {start}k_{name}_t IS DISTINCT FROM '{kind}' "
            f"THEN 'field task.PAYLOAD.{path} must be a JSON {kind.lower()}'"
        )
    rules += [
        f"WHEN {start}json_array_length(k_participants) = 0 "
        "THEN 'field task.PAYLOAD.PARTICIPANTS is empty'",
        f"WHEN {start}participant_error IS NOT NULL THEN participant_error",
    ]
    return "CASE\n        " + "\n        ".join(rules) + "\n    END"


def participant_error_sql() -> str:
    """The first rule a Starting Match participant breaks (columns p, hero, h_*), or NULL."""
    label = "task.PAYLOAD.PARTICIPANTS_HEROS[participant]"
    rules = [
        "WHEN json_type(p) <> 'VARCHAR' THEN 'participant ' || p || ' is not a token string'",
        "WHEN p_seen > 1 THEN 'participant ' || to_json(p_text) "
        "|| ' is in task.PAYLOAD.PARTICIPANTS more than once'",
        "WHEN hero IS NULL THEN 'PARTICIPANTS_HEROS has no hero for participant ' || p_text",
        "WHEN hero_t <> 'OBJECT' THEN 'the hero of participant ' || p_text "
        "|| ' is not a JSON object'",
    ]
    rules += uint_field("h_id", f"{label}.id", "uint16")
    rules += uint_field("h_attack", f"{label}.attack", "uint64")
    rules += uint_field("h_health", f"{label}.health", "uint64")
    return "CASE " + " ".join(rules) + " END"


def lobby_sql() -> str:
    """One row per participant of each loaded 'Starting Match'."""
    return """
SELECT m.etl_id, m.msg_id, m.ts_task AS "timestamp",
    m.game_token,
    p.p_text AS user_token,
    p.h_id::USMALLINT AS superhero_id,
    p.h_attack::UBIGINT AS superhero_attack,
    p.h_health::UBIGINT AS superhero_health,
    m."partition", m."offset", p.p_index
FROM msg m JOIN participants p USING (topic, "partition", "offset")
WHERE m.error = '' AND m.log_message = 'Starting Match'
ORDER BY m."partition", m."offset", p.p_index
"""
