"""Strict input: what the game itself never writes, refused although a JSON reader takes it.

- A key twice in one object, anywhere in the value or in a known message's task. Readers
  disagree on which value counts (DuckDB's JSON paths take the first, Python's json the
  last), so such a message is quarantined, not loaded with a guess. `duplicate_keys_sql`
  finds them with DuckDB's `json_tree`, for a whole batch at once.
- Timestamps of exactly the shapes the game writes (`contract.LOCAL_TIMESTAMP_SHAPE` and
  `contract.TASK_TIMESTAMP_SHAPE`): zero-padded, nothing around them. strptime alone would
  take `2023-9-1` or surrounding spaces.
- Timestamps within years 0001 to 9999 once in their column: log_meta keeps milliseconds,
  so a local time from 9999-12-31T23:59:59.9995 on rounds to year 10000, which Arrow
  readers cannot read back; strptime takes year 0000.

The native module (`native/src/json.rs`, `time.rs`) never calls such a message clean.
"""

from __future__ import annotations

FIRST_TIME = "0001-01-01 00:00:00"
# From here on a local time, rounded to milliseconds, is in year 10000.
LOCAL_ROUNDS_PAST_9999 = "9999-12-31 23:59:59.9995"
YEARS = "outside years 0001 to 9999"


def local_time_in_range(ts: str) -> str:
    """SQL: the local time `ts` (microseconds) stays within years 0001 to 9999 as ms."""
    return f"({ts} >= TIMESTAMP '{FIRST_TIME}' AND {ts} < TIMESTAMP '{LOCAL_ROUNDS_PAST_9999}')"


def utc_time_in_range(ts: str) -> str:
    """SQL: the task time `ts` (seconds; four digits of year) is not in year 0000."""
    return f"({ts} >= TIMESTAMP '{FIRST_TIME}')"


def _nodes(source: str, row_id: str, columns: str) -> str:
    """Every member and item of both documents (json_tree; the roots left out)."""
    return " UNION ALL ".join(
        f"SELECT {row_id}, '{doc}' AS doc, {columns} "
        f"FROM {source}, json_tree({doc}) j WHERE j.parent IS NOT NULL"
        for doc in ("value", "task")
    )


def rows_with_a_repeated_key_sql(source: str, row_id: str) -> str:
    """The `row_id`s of `source` (as for `duplicate_keys_sql`) with a key twice in an object.

    For the fast path's verdict only, so leaner: each key is hashed with its object, and a
    row's hashes are compared in one list. A collision would only send a message to the
    full rules, which name the key.
    """
    nodes = _nodes(source, row_id, "hash(j.parent, j.key) AS h")
    return f"""
SELECT {row_id} FROM ({nodes})
GROUP BY {row_id}
HAVING list_unique(list(hash(doc, h))) <> count(*)
"""


def duplicate_keys_sql(source: str, row_id: str) -> str:
    """Per row of `source` with a key twice in one object: `row_id`, then `value_duplicate`
    and `task_duplicate`, the reason for the first repeated key of each document (or NULL).

    source has columns value and task: JSON text that DuckDB has parsed already (else NULL;
    json_tree fails on invalid JSON). A key is told after unescaping, as every reader does.
    """
    nodes = _nodes(source, row_id, "j.parent, j.key, j.path, j.id")
    reason = "'duplicate key ' || to_json(key) || ' in ' || doc || substr(path, 2)"
    return f"""
SELECT {row_id},
    arg_min({reason}, first_id) FILTER (WHERE doc = 'value') AS value_duplicate,
    arg_min({reason}, first_id) FILTER (WHERE doc = 'task') AS task_duplicate
FROM (
    SELECT {row_id}, doc, key, any_value(path) AS path, min(id) AS first_id
    FROM ({nodes})
    GROUP BY {row_id}, doc, parent, key
    HAVING count(*) > 1
)
GROUP BY {row_id}
"""
