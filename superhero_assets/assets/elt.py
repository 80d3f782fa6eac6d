"""The batch ELT as assets: raw landing, the derived tables, then the Redis commit.

A run with nothing new to load materializes nothing: raw_messages records an observation
saying so, and the steps after it (the tables, their checks, the commit) are skipped.
"""

import math
import time
from collections.abc import Iterator

import dagster as dg

from superhero_assets.assets.metadata import column_schema, range_metadata, table_preview
from superhero_assets.core import contract
from superhero_assets.core.column_docs import TABLE_DESCRIPTIONS
from superhero_assets.core.quality import table_checks
from superhero_assets.core.run import heartbeat, manifest
from superhero_assets.core.run.pending_run import PendingRun
from superhero_assets.resources import BatchLoaderResource

ELT_GROUP = "superhero_elt"
# One ELT run at a time: dagster.yaml caps this pool at one run (granularity: run).
ELT_POOL = "superhero_elt"
NOTHING_NEW = "no new messages since the last commit: nothing to materialize"


def announce_run(context: dg.AssetExecutionContext, loader: BatchLoaderResource) -> None:
    """Tell the lag sensor this run's process lives, for as long as it does (recovery.py)."""
    heartbeat.announce_run(
        loader.redis_state.client(), context.run.run_id, loader.lock_ttl_s * 1000
    )


def this_runs_pending(
    context: dg.AssetExecutionContext, loader: BatchLoaderResource
) -> PendingRun | None:
    """The pending plan raw_messages recorded in this Dagster run, if it found anything."""
    announce_run(context, loader)
    pending = manifest.read_pending(loader.output.store())
    if pending is None or pending.run_id != context.run.run_id:
        context.log.info(
            "raw_messages planned nothing in this run (materialize it too): nothing to do"
        )
        return None
    return pending


def write_time(seconds: float) -> dict[str, float]:
    """Encoding and writing this table's files (parsing is shared by all of them), in the
    step that wrote them; nothing when a redone older plan did not record it."""
    return {} if math.isnan(seconds) else {"write_s": round(seconds, 3)}


@dg.asset(
    group_name=ELT_GROUP,
    pool=ELT_POOL,
    kinds={"kafka", "parquet"},
    description=TABLE_DESCRIPTIONS["raw_messages"],
    metadata={"dagster/column_schema": column_schema("raw_messages", contract.RAW_MESSAGES)},
    output_required=False,
)
def raw_messages(
    context: dg.AssetExecutionContext, loader: BatchLoaderResource
) -> Iterator[dg.MaterializeResult | dg.AssetObservation]:
    """Lands every new Kafka message as raw Parquet, each batch's tables beside it.

    Takes the topic locks, plans [last committed offset + 1, high watermark) per partition
    (or redoes the plan of a run that died), and reads it in bounded batches.
    """
    started = time.monotonic()
    announce_run(context, loader)
    elt = loader.loader(context.log)
    pending = elt.prepare(run_id=context.run.run_id)
    if pending is None:
        heartbeat.end_run(context.run.run_id)
        context.log.info(NOTHING_NEW)
        yield dg.AssetObservation(asset_key="raw_messages", metadata={"note": NOTHING_NEW})
        return
    stats = elt.land_raw(pending)
    pending = elt.record_derived(pending)
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": table_checks.table_rows(elt.store, "raw_messages"),
            "rows_this_run": stats["messages"],
            "etl_id": pending.plan.etl_id,
            "kind": pending.plan.kind,
            "bytes": stats["bytes"],
            "files": stats["files"],
            "duration_s": round(time.monotonic() - started, 3),
            "dagster/uri": f"{elt.store.root}/raw_messages",
            **range_metadata(pending.plan, loader.topics()),
        }
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            name,
            deps=[raw_messages],
            group_name=ELT_GROUP,
            kinds={"parquet"},
            description=TABLE_DESCRIPTIONS[name],
            metadata={"dagster/column_schema": column_schema(name, schema)},
            skippable=True,
        )
        for name, schema in contract.TABLES.items()
    ],
    can_subset=False,
    pool=ELT_POOL,
)
def elt_tables(context: dg.AssetExecutionContext, loader: BatchLoaderResource):
    """The five tables and quarantine of each landed chunk: written while landing, else parsed."""
    pending = this_runs_pending(context, loader)
    if pending is None:
        return
    store = loader.output.store()
    stats = loader.loader(context.log).derive_tables(pending)
    for name in contract.TABLES:
        yield dg.MaterializeResult(
            asset_key=name,
            metadata={
                "dagster/row_count": table_checks.table_rows(store, name),
                "rows_this_run": stats[name]["rows"],
                "bytes": stats[name]["bytes"],
                "files": stats[name]["files"],
                **write_time(stats[name]["seconds"]),
                "etl_id": pending.plan.etl_id,
                "preview": table_preview(store, name, pending.plan),
                "dagster/uri": f"{store.root}/{name}",
                **range_metadata(pending.plan, contract.table_topics(name, loader.topics())),
            },
        )


@dg.asset(
    group_name=ELT_GROUP,
    pool=ELT_POOL,
    deps=list(contract.TABLES),
    kinds={"redis"},
    output_required=False,
)
def kafka_offsets(
    context: dg.AssetExecutionContext, loader: BatchLoaderResource
) -> Iterator[dg.MaterializeResult]:
    """The committed Kafka offsets in Redis, advanced only after every table is durable."""
    pending = this_runs_pending(context, loader)
    if pending is None:
        heartbeat.end_run(context.run.run_id)
        return
    entry = loader.loader(context.log).commit(pending)
    heartbeat.end_run(context.run.run_id)
    yield dg.MaterializeResult(
        metadata={
            "etl_id": entry["etl_id"],
            "last_offset": dg.MetadataValue.json(entry["offsets_after"]),
            "counts": dg.MetadataValue.json(entry["counts_after"]),
            "messages_read": dg.MetadataValue.json(entry["messages"]),
        }
    )
