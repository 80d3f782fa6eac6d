"""'Starting Match' on the fast path: its participants, one lobby row each, when all are clean.

The heroes map is parsed once per message and looked up for each participant, exactly as
the full rules do (`parse._PARTICIPANTS`); a participant is clean when its token is a plain
string and its hero an object with an id within uint16 and attack and health of at most 19
digits, and no other participant of its match has its token. A match is clean when it has
participants and every one of them is.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from superhero_assets.core import contract
from superhero_assets.core.parse.leaves import uint
from superhero_assets.core.parse.rules import HERO_FIELDS, path_list

_PARTICIPANTS_SQL = f"""
WITH matches AS (
    SELECT i, json_extract(k_participants, '$[*]') AS parts,
           from_json(k_heroes, '"MAP(VARCHAR, JSON)"') AS heroes
    FROM starts
), participants AS (
    SELECT i, heroes, unnest(parts)::VARCHAR AS p, generate_subscripts(parts, 1) AS p_index
    FROM matches
), heroes AS (
    SELECT i, p_index, p, substr(p, 2, length(p) - 2) AS user_token,
           json(heroes[substr(p, 2, length(p) - 2)]) AS hero
    FROM participants
), leaves AS (
    SELECT *, CASE WHEN starts_with(hero, '{{')
                   THEN json_extract(hero, {path_list(HERO_FIELDS)}) END AS h
    FROM heroes
)
SELECT i, p_index, user_token,
    starts_with(p, '"') AND NOT contains(p, '\\') AND h IS NOT NULL
        AND count(*) OVER (PARTITION BY i, p) = 1 AS plain,
    h[1]::VARCHAR AS id, h[2]::VARCHAR AS attack, h[3]::VARCHAR AS health
FROM leaves
ORDER BY i, p_index
"""


def participants(
    con: duckdb.DuckDBPyConnection, starts: pa.Table, n: int
) -> tuple[np.ndarray, pa.Table]:
    """(which of the n messages are clean matches, their participants' rows).

    starts: columns i (the message's row), k_participants and k_heroes, for the messages
    that may be clean matches.
    """
    clean = np.zeros(n, dtype=bool)
    if starts.num_rows == 0:
        return clean, _EMPTY
    con.register("starts", starts)
    try:
        rows = con.sql(_PARTICIPANTS_SQL).to_arrow_table()
    except duckdb.Error:  # e.g. a heroes map DuckDB cannot read: the full rules say why
        return clean, _EMPTY
    finally:
        con.unregister("starts")
    hero_id, attack, health = uint(rows["id"]), uint(rows["attack"]), uint(rows["health"])
    ok = pc.fill_null(
        pc.and_kleene(
            pc.and_kleene(
                rows["plain"], pc.less_equal(hero_id, pa.scalar(contract.UINT16_MAX, pa.uint64()))
            ),
            pc.and_kleene(pc.is_valid(attack), pc.is_valid(health)),
        ),
        False,
    ).to_numpy(zero_copy_only=False)
    i = rows["i"].to_numpy()
    clean[np.unique(i)] = True  # has participants...
    clean[i[~ok]] = False  # ...and none of them is wrong
    table = pa.table(
        {
            "i": rows["i"],
            "p_index": rows["p_index"],
            "user_token": rows["user_token"],
            "superhero_id": pc.if_else(ok, hero_id, None).cast(pa.uint16()),
            "superhero_attack": attack,
            "superhero_health": health,
        }
    )
    return clean, table.filter(pa.array(clean[i]))


_EMPTY = pa.table(
    {
        "i": pa.array([], pa.int64()),
        "p_index": pa.array([], pa.int64()),
        "user_token": pa.array([], pa.string()),
        "superhero_id": pa.array([], pa.uint16()),
        "superhero_attack": pa.array([], pa.uint64()),
        "superhero_health": pa.array([], pa.uint64()),
    }
)
