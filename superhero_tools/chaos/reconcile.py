"""Reconcile what the chaos producer wrote with the tables, row by row, per message.

The expected rows come from an independent parse of the produced bytes (Python's json,
not the loader's DuckDB SQL), so a bug in the loader's parsing cannot hide itself. Every
table is compared as a multiset of row keys; each difference is charged to its message:
- lost: a message with fewer rows than expected somewhere (absent from buffer_meta, or its
  log_meta / quarantine / lobby / game rows missing);
- duplicated: a message with more copies of a row than expected;
- wrong: a message with a row whose content was never expected (a changed value);
- unexpected: rows whose msg_id nobody produced.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

# The columns that identify a row's content, per table (msg_id first).
KEYS = {
    "buffer_meta": ["msg_id", "checksum"],
    "log_meta": ["msg_id", "level", "log_message"],
    "quarantine": ["msg_id"],
    "lib_server_lobby": ["msg_id", "game_token", "user_token"],
    "lib_server_game": [
        "msg_id",
        "game_token",
        "user_token",
        "enemy_token",
        "enemy_damage",
        "enemy_health_prior",
        "enemy_health_post",
    ],
}


@dataclass(frozen=True)
class Produced:
    topic: str
    partition: int
    offset: int
    value: bytes
    bad: bool

    @property
    def msg_id(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"


def read_ledger(path: Path) -> tuple[list[Produced], dict]:
    """The producer's acknowledged messages, and its closing line ({} if it never closed)."""
    produced, end = [], {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            if rec.get("end"):
                end = rec
                continue
            value = base64.b64decode(rec["v"])
            produced.append(Produced(rec["t"], rec["p"], rec["o"], value, rec["bad"]))
    return produced, end


def expected_rows(produced: Iterable[Produced]) -> dict[str, Counter]:
    """Row keys each table must hold, from the produced bytes alone."""
    rows: dict[str, Counter] = {name: Counter() for name in KEYS}
    for msg in produced:
        mid = msg.msg_id
        rows["buffer_meta"][(mid, f"{zlib.crc32(msg.value):08x}")] += 1
        if msg.bad:
            rows["quarantine"][(mid,)] += 1
            continue
        rec = json.loads(msg.value)
        rows["log_meta"][(mid, rec["level"], rec["log_message"])] += 1
        if rec["log_message"] == "Starting Match":
            payload = json.loads(rec["task"])["PAYLOAD"]
            for user in payload["PARTICIPANTS"]:
                rows["lib_server_lobby"][(mid, payload["GAME_TOKEN"], user)] += 1
        elif rec["log_message"] == "Attack Completed":
            task = json.loads(rec["task"])
            pay, det = task["PAYLOAD"], task["STATUS"]["DETAILS"]
            key = (mid, pay["GAME_TOKEN"], pay["USER_TOKEN"], det["ENEMY_TOKEN"])
            key += (det["ENEMY_DAMAGE"], det["ENEMY_HEALTH_PRIOR"], det["ENEMY_HEALTH_POST"])
            rows["lib_server_game"][key] += 1
    return rows


def actual_rows(tables: dict[str, pa.Table]) -> dict[str, Counter]:
    """Row keys the tables hold (a missing table holds none)."""
    rows: dict[str, Counter] = {}
    for name, cols in KEYS.items():
        table = tables.get(name)
        if table is None or table.num_rows == 0:
            rows[name] = Counter()
            continue
        if name == "buffer_meta":  # msg_id rebuilt from the columns, not trusted as stored
            ids = [
                f"{t}:{p}:{o}"
                for t, p, o in zip(
                    *(table[c].to_pylist() for c in ("topic", "partition", "offset")), strict=True
                )
            ]
            rows[name] = Counter(zip(ids, table["checksum"].to_pylist(), strict=True))
        else:
            rows[name] = Counter(zip(*(table[c].to_pylist() for c in cols), strict=True))
    return rows


def reconcile(produced: list[Produced], tables: dict[str, pa.Table]) -> dict:
    """Counts per message: produced, loaded, quarantined, lost, duplicated, wrong, unexpected."""
    expected, actual = expected_rows(produced), actual_rows(tables)
    ids = {m.msg_id for m in produced}
    lost, duplicated, wrong, unexpected = set(), set(), set(), set()
    per_table = {}
    for name in KEYS:
        exp, act = expected[name], actual[name]
        missing, extra = exp - act, act - exp
        per_table[name] = {"rows": sum(act.values()), "missing": sum(missing.values())}
        per_table[name]["extra"] = sum(extra.values())
        lost.update(key[0] for key in missing)
        for key in extra:
            if key[0] not in ids:
                unexpected.add(key[0])
            elif key in exp:
                duplicated.add(key[0])
            else:
                wrong.add(key[0])
    loaded = {k[0] for k in actual["log_meta"]} & ids
    quarantined = {k[0] for k in actual["quarantine"]} & ids
    return {
        "produced": len(produced),
        "produced_bad": sum(m.bad for m in produced),
        "loaded": len(loaded),
        "quarantined": len(quarantined),
        "lost": len(lost),
        "duplicated": len(duplicated),
        "wrong": len(wrong),
        "unexpected": len(unexpected),
        "tables": per_table,
    }


def read_output(store) -> dict[str, pa.Table]:
    """The key columns of every table, as a reader globbing {table}/**/*.parquet sees them."""
    from superhero_assets.core.quality import table_checks

    tables = {}
    for name, cols in KEYS.items():
        if name == "buffer_meta":
            cols = ["topic", "partition", "offset", "checksum"]
        tables[name] = table_checks.read_tables(store, store.list(name, ".parquet"), cols)
    return tables
