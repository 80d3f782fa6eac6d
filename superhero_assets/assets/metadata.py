"""Materialization metadata: column schemas, offset ranges and previews for the UI."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import dagster as dg
import pyarrow as pa

from superhero_assets.core import contract
from superhero_assets.core.column_docs import COLUMN_DESCRIPTIONS
from superhero_assets.core.quality.table_checks import run_files
from superhero_assets.core.run.plan import Plan
from superhero_assets.core.store.output_store import OutputStore
from superhero_assets.core.store.scan import scan

PREVIEW_ROWS = 5
# Cells are cut here so one long log message does not widen the whole preview.
PREVIEW_CELL_CHARS = 60


def column_schema(table: str, schema: pa.Schema) -> dg.TableSchema:
    """The contract's columns, their Arrow types and what each one means."""
    described = COLUMN_DESCRIPTIONS[table]
    return dg.TableSchema(
        columns=[dg.TableColumn(f.name, str(f.type), description=described[f.name]) for f in schema]
    )


def range_metadata(plan: Plan, topics: tuple[str, ...]) -> dict[str, Any]:
    """The offsets this run read from the given topics, and any retention gap among them."""
    ranges = [r for r in plan.ranges if r.topic in topics]
    loaded = {f"{r.topic}[{r.partition}]": f"{r.start}..{r.end}" for r in ranges if r.size}
    gaps = {f"{r.topic}[{r.partition}]": list(r.gap) for r in ranges if r.gap}
    out: dict[str, Any] = {"offset_ranges": dg.MetadataValue.json(loaded)}
    if gaps:
        out["retention_gaps"] = dg.MetadataValue.json(gaps)
    return out


def table_preview(store: OutputStore, table: str, plan: Plan) -> dg.MetadataValue:
    """The first rows this run wrote to the table, as a table the UI renders. Left out: the
    raw bytes (they are in raw_messages; quarantine's reason says what was wrong with them)
    and etl_id (the run's own, shown beside the preview)."""
    files = run_files(store, plan, table)[:1]
    schema = contract.TABLES[table]
    columns = [f for f in schema if not pa.types.is_binary(f.type) and f.name != "etl_id"]
    head = first_rows(store, files, [f.name for f in columns])
    records = [dg.TableRecord({name: _cell(value) for name, value in row.items()}) for row in head]
    return dg.MetadataValue.table(
        records=records,
        schema=dg.TableSchema(columns=[dg.TableColumn(f.name, _ui_type(f.type)) for f in columns]),
    )


def first_rows(store: OutputStore, files: list[str], columns: list[str]) -> list[dict]:
    """The first PREVIEW_ROWS rows of the first file: a lazy scan that reads these columns
    of its first row group, not the whole file."""
    if not files:
        return []
    head = scan(store, files[:1]).select(columns).head(PREVIEW_ROWS)
    return head.collect().rows(named=True)


def _ui_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_integer(arrow_type):
        return "int"
    if pa.types.is_floating(arrow_type):
        return "float"
    if pa.types.is_boolean(arrow_type):
        return "bool"
    return "string"


def _cell(value: object) -> str | int | float | bool | None:
    """A TableRecord holds plain scalars: times and lists become text."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= PREVIEW_CELL_CHARS else text[: PREVIEW_CELL_CHARS - 1] + "…"
