"""Repeated keys on the fast path's DuckDB side: which messages must be searched for one.

Searching a document (`strict.rows_with_a_repeated_key_sql`, DuckDB's `json_tree`) costs far
more than parsing it, so a message is searched only when it is not in one of the game's
own layouts. A layout is checked by rebuilding the text from the leaves DuckDB has already
read and comparing: text that equals the layout with scalar leaves put in has exactly the
layout's objects and keys, each key once. Whatever differs (another key order or spacing,
an escape, a leaf that is an object, a match with its lists and maps) is searched.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from superhero_assets.core.parse import strict
from superhero_assets.core.parse.rules import TASK_FIELDS, VALUE_FIELDS, sql_literal

# The paths the fast path reads: those the rules read, then those only layouts need.
VALUE_PATHS = {**VALUE_FIELDS, "task_game": "$.task.game_token", "task_user": "$.task.user_token"}
TASK_PATHS = {
    **TASK_FIELDS,
    "enemy_status": "$.STATUS.DETAILS.ENEMY_STATUS",
    "game": "$.STATUS.GAME",
}

_HEAD = '{"level": @level, "timestamp": @timestamp, "name": @name, "log_message": @log_message'
# By the first character of the task: a string, or the one task that is an object
# ('Cleaning Game Records').
VALUE_LAYOUTS = {
    '"': _HEAD + ', "task": @task}',
    "{": _HEAD + ', "task": {"game_token": @task_game, "user_token": @task_user}}',
}
_GAME = '{"TIMESTAMP": @ts, "PAYLOAD": {"GAME_TOKEN": @game_token'
_PLAYER = _GAME + ', "USER_TOKEN": @user_token}, "STATUS": {"ACTION": @action, "DETAILS": '
# By log_message ('Starting Match' below: its list and map are not scalars).
TASK_LAYOUTS = {
    "Attack Completed": _PLAYER + '{"ENEMY_TOKEN": @enemy_token, "ENEMY_DAMAGE": @enemy_damage, '
    '"ENEMY_HEALTH_PRIOR": @enemy_health_prior, "ENEMY_HEALTH_POST": @enemy_health_post}}}',
    "Attacked Dead Enemy": _PLAYER
    + '{"ENEMY_TOKEN": @enemy_token, "ENEMY_STATUS": @enemy_status}}}',
    "Game Timed Out": _GAME + '}, "STATUS": {"GAME": @game}}',
}


def _rebuilt(layout: str, leaf: dict[str, str]) -> tuple[str, str]:
    """SQL: (`layout` with leaf[name] put in for each @name, those leaves are scalars)."""
    parts = re.split(r"@(\w+)", layout)  # literal, name, literal, ..., literal
    # concat() skips a NULL leaf, but then a value is missing after a colon: the result is
    # not JSON, so never equal to the text (which is); the scalar test is NULL too.
    pieces = (
        sql_literal(part) if i % 2 == 0 else leaf[part] for i, part in enumerate(parts) if part
    )
    scalar = " AND ".join(f"left({leaf[n]}, 1) NOT IN ('{{', '[')" for n in parts[1::2])
    return f"concat({', '.join(pieces)})", scalar


def in_layout_sql(text: str, layout: str, leaf: dict[str, str]) -> str:
    """SQL: `text` is exactly `layout` with scalar leaves put in (@name: leaf[name])."""
    rebuilt, scalar = _rebuilt(layout, leaf)
    return f"({text} = {rebuilt} AND {scalar})"


_MATCH_HEAD = '{"TIMESTAMP": @ts, "PAYLOAD": {"GAME_TOKEN": @game_token, "PARTICIPANTS": '
_MATCH_SPLIT = '], "PARTICIPANTS_HEROS": '
_MATCH_TAIL = '}, "STATUS": {"GAME": @game}}'
# A map of heroes as DuckDB writes it (minified), each hero a flat object of fixed keys.
_HERO = r'"[^"\\]*":\{"token":"[^"\\]*","id":\d+,"attack":\d+,"health":\d+\}'
HEROES_SHAPE = rf"\{{{_HERO}(,{_HERO})*\}}"


def in_match_layout_sql(text: str, leaf: dict[str, str]) -> str:
    """SQL: `text` is a match's task in the game's layout, whose participants are scalars
    and whose heroes are flat objects of the hero's keys, in a map of distinct keys.

    The participants and heroes are cut from the text between the parts around them, and
    must be what DuckDB read, once minified (a cut inside a string leaves invalid JSON).
    """
    (head, head_scalar), (tail, tail_scalar) = (
        _rebuilt(_MATCH_HEAD, leaf),
        _rebuilt(_MATCH_TAIL, leaf),
    )
    middle = f"{text}[length({head}) + 1:length({text}) - length({tail})]"
    cut = f"strpos({middle}, {sql_literal(_MATCH_SPLIT)})"
    participants = f"{middle}[:{cut}]"
    heroes = f"{middle}[{cut} + {len(_MATCH_SPLIT)}:]"
    p, h = leaf["participants"], leaf["heroes"]
    return f"""(starts_with({text}, {head}) AND ends_with({text}, {tail})
        AND {head_scalar} AND {tail_scalar} AND {cut} > 0
        AND try(json({participants})) = {p} AND NOT contains({p}, '{{')
        AND try(json({heroes})) = {h} AND regexp_full_match({h}, {sql_literal(HEROES_SHAPE)})
        AND list_unique(json_keys({h})) = len(json_keys({h})))"""


def _leaves(prefix: str, paths: dict[str, str]) -> dict[str, str]:
    return {name: f"{prefix}{name}" for name in paths}


def to_search_sql() -> str:
    """Columns search_value and search_task: the documents not in a layout (else NULL), of
    a row with columns s (the value), parsed, f_{name} (its leaves at VALUE_PATHS),
    task_text, task_parsed and k_{name} (its leaves at TASK_PATHS), as the fast path's SQL
    has them."""
    f, k = _leaves("f_", VALUE_PATHS), _leaves("k_", TASK_PATHS)
    # CASE reads only the layout a message may be in.
    value_layout = " ".join(
        f"WHEN starts_with({f['task']}, {sql_literal(first)}) THEN {in_layout_sql('s', layout, f)}"
        for first, layout in VALUE_LAYOUTS.items()
    )
    task_layout = " ".join(
        f"WHEN {f['log_message']} = {sql_literal(chr(34) + message + chr(34))} "
        f"THEN {in_layout_sql('task_text', layout, k)}"
        for message, layout in TASK_LAYOUTS.items()
    )
    task_layout += (
        f" WHEN {f['log_message']} = '\"Starting Match\"' "
        f"THEN {in_match_layout_sql('task_text', k)}"
    )
    return f"""CASE WHEN parsed AND NOT coalesce(CASE {value_layout} END, false)
         THEN s END AS search_value,
    CASE WHEN task_parsed AND NOT coalesce(CASE {task_layout} END, false)
         THEN task_text END AS search_task"""


def with_a_repeated_key(con, leaves: pa.Table) -> np.ndarray:
    """Which rows of the fast path's leaves (columns search_value, search_task) have a key
    twice in an object."""
    found = np.zeros(leaves.num_rows, dtype=bool)
    searched = pc.or_(pc.is_valid(leaves["search_value"]), pc.is_valid(leaves["search_task"]))
    rows = pc.indices_nonzero(searched)
    if len(rows) == 0:
        return found
    docs = pa.table(
        {
            "i": rows,
            "value": leaves["search_value"].take(rows),
            "task": leaves["search_task"].take(rows),
        }
    )
    con.register("fast_search", docs)
    try:
        repeats = con.sql(strict.rows_with_a_repeated_key_sql("fast_search", "i")).fetchnumpy()
    finally:
        con.unregister("fast_search")
    found[repeats["i"]] = True
    return found
