"""The batch ELT as assets: one landing step, then the Redis commit.

`land` is one step that materializes raw_messages, the five tables and quarantine: it lands
each batch's raw messages and the tables parsed from it together, and reports each table
from what it wrote (lineage still shows raw_messages -> tables). The blocking checks on the
tables run between it and `kafka_offsets`, the commit. A run with nothing new to load
materializes nothing: `land` records an observation on raw_messages saying so, and the
checks and the commit are skipped.
"""

import time
from collections.abc import Iterator

import dagster as dg

from superhero_assets.assets.metadata import column_schema, range_metadata, table_preview
from superhero_assets.assets.shards import ELT_POOL, SHARDS, shard_of
from superhero_assets.core import contract
from superhero_assets.core.column_docs import TABLE_DESCRIPTIONS
from superhero_assets.core.quality import table_checks
from superhero_assets.core.run import heartbeat, manifest
from superhero_assets.core.run.pending_run import PendingRun
from superhero_assets.resources import BatchLoaderResource

ELT_GROUP = "superhero_elt"
NOTHING_NEW = "no new messages since the last commit: nothing to materialize"


def announce_run(context: dg.AssetExecutionContext, loader: BatchLoaderResource) -> None:
    """Tell the lag sensor this run's process lives, for as long as it does (recovery.py)."""
    heartbeat.announce_run(
        loader.redis_state.client(), context.run.run_id, loader.lock_ttl_s * 1000
    )


def this_runs_pending(
    context: dg.AssetExecutionContext, loader: BatchLoaderResource
) -> PendingRun | None:
    """The pending plan `land` recorded in this Dagster run, if it found anything."""
    announce_run(context, loader)
    pending = manifest.read_pending(loader.output.store(), context.run.run_id)
    if pending is None:
        context.log.info("land planned nothing in this run (materialize it too): nothing to do")
        return None
    return pending


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "raw_messages",
            group_name=ELT_GROUP,
            kinds={"kafka", "parquet"},
            description=TABLE_DESCRIPTIONS["raw_messages"],
            metadata={
                "dagster/column_schema": column_schema("raw_messages", contract.RAW_MESSAGES)
            },
            skippable=True,
        ),
        *(
            dg.AssetSpec(
                name,
                deps=["raw_messages"],
                group_name=ELT_GROUP,
                kinds={"parquet"},
                description=TABLE_DESCRIPTIONS[name],
                metadata={"dagster/column_schema": column_schema(name, schema)},
                skippable=True,
            )
            for name, schema in contract.TABLES.items()
        ),
    ],
    can_subset=False,
    pool=ELT_POOL,
    partitions_def=SHARDS,
)
def land(
    context: dg.AssetExecutionContext, loader: BatchLoaderResource
) -> Iterator[dg.MaterializeResult | dg.AssetObservation]:
    """Lands every new Kafka message as raw Parquet, each batch's tables and quarantine beside it.

    Takes its shard's partition locks, plans [last committed offset + 1, high watermark) each
    (or redoes the plan of a run that died), reads it in bounded batches and parses each
    batch as it lands. Each table's metadata comes from what this step wrote.
    """
    started = time.monotonic()
    announce_run(context, loader)
    elt = loader.loader(context.log, shard_of(context))
    pending = elt.prepare(run_id=context.run.run_id)
    if pending is None:
        heartbeat.end_run(context.run.run_id)
        context.log.info(NOTHING_NEW)
        yield dg.AssetObservation(asset_key="raw_messages", metadata={"note": NOTHING_NEW})
        return
    stats = elt.land(pending)
    plan, store = pending.plan, elt.store
    raw = stats["raw_messages"]
    yield dg.MaterializeResult(
        asset_key="raw_messages",
        metadata={
            "dagster/row_count": table_checks.table_rows(store, "raw_messages"),
            "rows_this_run": raw.rows,
            "etl_id": plan.etl_id,
            "kind": plan.kind,
            "bytes": raw.bytes,
            "files": raw.files,
            "duration_s": round(time.monotonic() - started, 3),
            "dagster/uri": f"{store.root}/raw_messages",
            **range_metadata(plan, loader.topics()),
        },
    )
    for name in contract.TABLES:
        table = stats[name]
        yield dg.MaterializeResult(
            asset_key=name,
            metadata={
                "dagster/row_count": table_checks.table_rows(store, name),
                "rows_this_run": table.rows,
                "bytes": table.bytes,
                "files": table.files,
                # Encoding and writing this table's files (parsing is shared by all of them).
                "write_s": round(table.seconds, 3),
                "etl_id": plan.etl_id,
                "preview": table_preview(store, name, plan),
                "dagster/uri": f"{store.root}/{name}",
                **range_metadata(plan, contract.table_topics(name, loader.topics())),
            },
        )


@dg.asset(
    group_name=ELT_GROUP,
    pool=ELT_POOL,
    partitions_def=SHARDS,
    deps=list(contract.TABLES),
    kinds={"redis"},
    output_required=False,
)
def kafka_offsets(
    context: dg.AssetExecutionContext, loader: BatchLoaderResource
) -> Iterator[dg.MaterializeResult]:
    """The committed Kafka offsets in Redis, advanced only after every table is durable and
    its blocking checks passed. The pending plan is this step's input: what to commit."""
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
