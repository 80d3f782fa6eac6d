"""Asset checks: one question each; the blocking ones guard the Redis commit downstream.

In an ELT run a check asks its question of the files that run wrote. Run on its own (from the
asset's Checks tab), it asks it of the whole table, and its `scope` metadata says which. The
checks share the ELT's pool, so one run on its own waits for a loading run to finish.
"""

from collections.abc import Callable

import dagster as dg

from superhero_assets.assets.shards import ELT_POOL
from superhero_assets.core import contract
from superhero_assets.core.kafka.served_offsets import KafkaOffsets
from superhero_assets.core.quality import offset_checks, table_checks
from superhero_assets.core.run.plan import Plan
from superhero_assets.core.store.output_store import OutputStore
from superhero_assets.resources import BatchLoaderResource

QUARANTINE_WARN_RATE = 0.01
Question = Callable[[OutputStore, Plan], dg.AssetCheckResult]


def guard(asset: str, name: str) -> Callable:
    """A blocking check: a failure stops the Redis commit. In the ELT's pool, so one run on
    its own waits for a loading run instead of reading its half-written files."""
    return dg.asset_check(asset=asset, name=name, blocking=True, pool=ELT_POOL)


def scope_of(
    context: dg.AssetCheckExecutionContext, loader: BatchLoaderResource, store: OutputStore
) -> tuple[Plan, str]:
    """This run's plan, or the whole table when the check runs without the ELT."""
    plan = table_checks.plan_for_run(store, context.op_execution_context.run_id)
    if plan is not None:
        return plan, f"this run: {len(plan.chunks)} chunks of etl_id {plan.etl_id}"
    plan = table_checks.whole_table_plan(store, loader.topics())
    return plan, f"the whole table: {len(plan.chunks)} chunks (run without the ELT)"


def scoped(
    question: Question,
) -> Callable[[dg.AssetCheckExecutionContext, BatchLoaderResource], dg.AssetCheckResult]:
    """Ask the question of this run's files, or of the whole table; say which in `scope`."""

    def check(context: dg.AssetCheckExecutionContext, loader: BatchLoaderResource):
        store = loader.output.store()
        plan, scope = scope_of(context, loader, store)
        result = question(store, plan)
        return result.with_metadata({**result.metadata, "scope": scope})

    check.__doc__ = question.__doc__
    check.__name__ = question.__name__
    return check


def _schema_check(table: str) -> dg.AssetChecksDefinition:
    def schema_matches_contract(store: OutputStore, plan: Plan) -> dg.AssetCheckResult:
        files = table_checks.run_files(store, plan, table)
        bad = table_checks.schema_mismatches(store, table, files)
        return dg.AssetCheckResult(
            passed=not bad,
            metadata={"files_checked": len(files), "mismatches": dg.MetadataValue.json(bad)},
        )

    schema_matches_contract.__doc__ = f"Every {table} file has exactly the contract's schema."
    return guard(table, "schema_matches_contract")(scoped(schema_matches_contract))


def _rows_equal(store: OutputStore, plan: Plan, table: str, expected: int) -> dg.AssetCheckResult:
    rows = table_checks.row_count(store, table_checks.run_files(store, plan, table))
    return dg.AssetCheckResult(
        passed=rows == expected, metadata={"expected": expected, "rows": rows}
    )


@guard("buffer_meta", "one_row_per_message_read")
@scoped
def buffer_meta_rows(store: OutputStore, plan: Plan) -> dg.AssetCheckResult:
    """buffer_meta has one row for every message in raw_messages."""
    read = table_checks.row_count(store, table_checks.run_files(store, plan, "raw_messages"))
    return _rows_equal(store, plan, "buffer_meta", read)


@guard("lib_server_lobby", "one_row_per_participant")
@scoped
def lobby_rows(store: OutputStore, plan: Plan) -> dg.AssetCheckResult:
    """lib_server_lobby has one row per participant of every loaded 'Starting Match'."""
    return _rows_equal(
        store, plan, "lib_server_lobby", table_checks.expected_lobby_rows(store, plan)
    )


@guard("lib_server_game", "one_row_per_attack")
@scoped
def game_rows(store: OutputStore, plan: Plan) -> dg.AssetCheckResult:
    """lib_server_game has one row per loaded 'Attack Completed'."""
    return _rows_equal(store, plan, "lib_server_game", table_checks.attack_messages(store, plan))


@guard("buffer_meta", "msg_id_unique")
@scoped
def msg_id_unique(store: OutputStore, plan: Plan) -> dg.AssetCheckResult:
    """No message appears twice in buffer_meta: within each file, and across files' ranges."""
    problems = offset_checks.duplicates(store, plan)
    return dg.AssetCheckResult(
        passed=not problems,
        metadata={
            "duplicates": sum(problems.values()),
            "problems": dg.MetadataValue.json(problems),
        },
    )


@guard("buffer_meta", "offsets_contiguous")
def offsets_contiguous(context: dg.AssetCheckExecutionContext, loader: BatchLoaderResource):
    """Every record Kafka serves (read_committed) in the loaded ranges is in buffer_meta, and
    no other: offsets holding a transaction marker or an aborted record may be missing. Only
    a file that lacks offsets has its range read again from Kafka, apart from recorded gaps."""
    store = loader.output.store()
    plan, scope = scope_of(context, loader, store)
    topics = sorted({c.topic for c in plan.chunks})
    with KafkaOffsets(loader.kafka.client_config(), topics, loader.batch_messages) as kafka:
        report = offset_checks.contiguity(store, plan, kafka)
    result = contiguity_result(report)
    return result.with_metadata({**result.metadata, "scope": scope})


def contiguity_result(report: offset_checks.Contiguity) -> dg.AssetCheckResult:
    """Holes or rows Kafka does not serve fail (blocking); unverifiable ranges only warn."""
    # Offsets retention removed before they could be compared were loaded by a reader that
    # stops rather than skip a record, and no retry could compare them again: a warning
    # that names them, not a block that would hold the commit forever.
    return dg.AssetCheckResult(
        passed=report.passed and not report.unverifiable,
        severity=dg.AssetCheckSeverity.ERROR if not report.passed else dg.AssetCheckSeverity.WARN,
        metadata={
            "holes": dg.MetadataValue.json(report.holes),
            "rows_kafka_does_not_serve": dg.MetadataValue.json(report.not_served),
            "offsets_without_record": report.offsets_without_record,
            "ranges_compared_with_kafka": report.ranges_compared,
            "unverifiable": dg.MetadataValue.json(report.unverifiable),
        },
    )


@dg.asset_check(asset="quarantine", name="rate_is_low", pool=ELT_POOL)
@scoped
def quarantine_rate(store: OutputStore, plan: Plan) -> dg.AssetCheckResult:
    """Under 1% of the messages read were quarantined (a warning, not a stop)."""
    read = table_checks.row_count(store, table_checks.run_files(store, plan, "raw_messages"))
    bad = table_checks.row_count(store, table_checks.run_files(store, plan, "quarantine"))
    rate = bad / read if read else 0.0
    return dg.AssetCheckResult(
        passed=rate <= QUARANTINE_WARN_RATE,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"quarantined": bad, "read": read, "rate": round(rate, 6)},
    )


SCHEMA_CHECKS = [_schema_check(table) for table in contract.TABLES]
ALL_CHECKS = [
    *SCHEMA_CHECKS,
    buffer_meta_rows,
    lobby_rows,
    game_rows,
    msg_id_unique,
    offsets_contiguous,
    quarantine_rate,
]
