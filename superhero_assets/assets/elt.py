"""The batch ELT as assets: raw landing, the derived tables, then the Redis commit."""

import time
from datetime import timedelta
from typing import Any

import dagster as dg

from superhero_assets.assets.metadata import column_schema, range_metadata, table_preview
from superhero_assets.core import checks, contract, heartbeat, manifest
from superhero_assets.resources import BatchLoaderResource

ELT_GROUP = "superhero_elt"
# One ELT run at a time: dagster.yaml caps this pool at one run (granularity: run).
ELT_POOL = "superhero_elt"
# New game logs should reach the tables within minutes under the lag sensor's defaults.
TABLE_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(minutes=15), warn_window=timedelta(minutes=5)
)


def announce_run(context: dg.AssetExecutionContext, loader: BatchLoaderResource) -> None:
    """Tell the lag sensor this run's process lives, for as long as it does (recovery.py)."""
    heartbeat.announce_run(
        loader.redis_state.client(), context.run.run_id, loader.lock_ttl_s * 1000
    )


def this_runs_pending(
    context: dg.AssetExecutionContext, loader: BatchLoaderResource
) -> dict[str, Any] | None:
    """The pending plan raw_messages recorded in this Dagster run, if it found anything."""
    announce_run(context, loader)
    pending = manifest.read_pending(loader.output.store())
    if pending is None or pending.get("run_id") != context.run.run_id:
        context.log.info("raw_messages planned nothing in this run: nothing to do")
        return None
    return pending


@dg.asset(
    group_name=ELT_GROUP,
    pool=ELT_POOL,
    kinds={"kafka", "parquet"},
    metadata={"dagster/column_schema": column_schema(contract.RAW_MESSAGES)},
)
def raw_messages(
    context: dg.AssetExecutionContext, loader: BatchLoaderResource
) -> dg.MaterializeResult:
    """Every Kafka message of the run, landed losslessly as Parquet: the replay source.

    Takes the topic locks, plans [last committed offset + 1, high watermark) per partition
    (or redoes the plan of a run that died), and reads it in bounded batches, writing each
    batch's derived tables beside it.
    """
    started = time.monotonic()
    announce_run(context, loader)
    elt = loader.loader(context.log)
    uri = {"dagster/uri": f"{elt.store.root}/raw_messages"}
    pending = elt.prepare(run_id=context.run.run_id)
    if pending is None:
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": checks.table_rows(elt.store, "raw_messages"),
                "rows_this_run": 0,
                "note": "no new messages since the last commit",
                **uri,
            }
        )
    stats = elt.land_raw(pending)
    elt.record_derived(pending)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": checks.table_rows(elt.store, "raw_messages"),
            "rows_this_run": stats["messages"],
            "etl_id": pending["plan"]["etl_id"],
            "kind": pending["plan"]["kind"],
            "bytes": stats["bytes"],
            "files": stats["files"],
            "duration_s": round(time.monotonic() - started, 3),
            **range_metadata(pending["plan"]),
            **uri,
        }
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            name,
            deps=[raw_messages],
            group_name=ELT_GROUP,
            kinds={"parquet"},
            description=description,
            freshness_policy=TABLE_FRESHNESS,
            metadata={"dagster/column_schema": column_schema(contract.TABLES[name])},
        )
        for name, description in {
            "etl_meta": "One row per batch run: its etl_id, service, mode, start and end.",
            "buffer_meta": "One row per Kafka message read: where it came from, sizes, checksum.",
            "log_meta": "One row per loaded log record: level, time, logger and message.",
            "lib_server_lobby": "One row per participant of each 'Starting Match'.",
            "lib_server_game": "One row per 'Attack Completed'.",
            "quarantine": "Messages that could not be loaded, with the reason and the raw value.",
        }.items()
    ],
    can_subset=False,
    pool=ELT_POOL,
)
def elt_tables(context: dg.AssetExecutionContext, loader: BatchLoaderResource):
    """The five tables and quarantine of each landed chunk: written while landing, else parsed."""
    pending = this_runs_pending(context, loader)
    store = loader.output.store()
    if pending is None:
        for name in contract.TABLES:
            yield dg.MaterializeResult(
                asset_key=name,
                metadata={
                    "dagster/row_count": checks.table_rows(store, name),
                    "rows_this_run": 0,
                    "dagster/uri": f"{store.root}/{name}",
                },
            )
        return
    started = time.monotonic()
    stats = loader.loader(context.log).derive_tables(pending)
    duration = round(time.monotonic() - started, 3)
    for name in contract.TABLES:
        yield dg.MaterializeResult(
            asset_key=name,
            metadata={
                "dagster/row_count": checks.table_rows(store, name),
                "rows_this_run": stats[name]["rows"],
                "bytes": stats[name]["bytes"],
                "files": stats[name]["files"],
                "duration_s": duration,
                "etl_id": pending["plan"]["etl_id"],
                "preview": table_preview(store, name, pending["plan"]),
                "dagster/uri": f"{store.root}/{name}",
                **range_metadata(pending["plan"]),
            },
        )


@dg.asset(
    group_name=ELT_GROUP,
    pool=ELT_POOL,
    deps=list(contract.TABLES),
    kinds={"redis"},
)
def kafka_offsets(
    context: dg.AssetExecutionContext, loader: BatchLoaderResource
) -> dg.MaterializeResult:
    """The committed Kafka offsets in Redis, advanced only after every table is durable."""
    pending = this_runs_pending(context, loader)
    if pending is None:
        heartbeat.end_run(context.run.run_id)
        return dg.MaterializeResult(metadata={"committed": False})
    entry = loader.loader(context.log).commit(pending)
    heartbeat.end_run(context.run.run_id)
    return dg.MaterializeResult(
        metadata={
            "committed": True,
            "etl_id": entry["etl_id"],
            "last_offset": dg.MetadataValue.json(entry["offsets_after"]),
            "counts": dg.MetadataValue.json(entry["counts_after"]),
            "messages_read": dg.MetadataValue.json(entry["messages"]),
        }
    )
