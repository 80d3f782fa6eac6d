"""Materialization metadata: column schemas, offset ranges and previews for the UI."""

from __future__ import annotations

from typing import Any

import dagster as dg
import pyarrow as pa

from superhero_assets.core.checks import read_tables, run_files
from superhero_assets.core.plan import Plan
from superhero_assets.core.store import OutputStore


def column_schema(schema: pa.Schema) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(f.name, str(f.type)) for f in schema])


def range_metadata(plan: dict[str, Any]) -> dict[str, Any]:
    ranges = {
        f"{r['topic']}[{r['partition']}]": f"{r['start']}..{r['end']}"
        for r in plan["ranges"]
        if r["end"] >= r["start"]
    }
    gaps = {f"{r['topic']}[{r['partition']}]": r["gap"] for r in plan["ranges"] if r["gap"]}
    out: dict[str, Any] = {"offset_ranges": dg.MetadataValue.json(ranges)}
    if gaps:
        out["retention_gaps"] = dg.MetadataValue.json(gaps)
    return out


def table_preview(store: OutputStore, table: str, plan: dict[str, Any], rows: int = 5):
    files = run_files(store, Plan.from_json(plan), table)[:1]
    if not files:
        return dg.MetadataValue.md("(no rows this run)")
    head = read_tables(store, files).slice(0, rows)
    if "value" in head.column_names:
        head = head.drop_columns(["value"])
    names = head.column_names
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    for row in head.to_pylist():
        lines.append("| " + " | ".join(str(row[n])[:40] for n in names) + " |")
    return dg.MetadataValue.md("\n".join(lines))
