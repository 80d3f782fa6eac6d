"""Asset checks: one question each; the blocking ones guard the Redis commit downstream."""

from collections.abc import Callable

import dagster as dg

from superhero_assets.core import checks, contract, offset_checks
from superhero_assets.core.served_offsets import KafkaOffsets
from superhero_assets.resources import BatchLoaderResource

QUARANTINE_WARN_RATE = 0.01


def _schema_check(table: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=table, name=f"{table}_schema_matches_contract", blocking=True)
    def check(context: dg.AssetCheckExecutionContext, loader: BatchLoaderResource):
        store = loader.output.store()
        plan = checks.plan_for_run(store, context.op_execution_context.run_id)
        files = checks.run_files(store, plan, table) if plan else []
        bad = checks.schema_mismatches(store, table, files)
        return dg.AssetCheckResult(
            passed=not bad,
            metadata={"files_checked": len(files), "mismatches": dg.MetadataValue.json(bad)},
        )

    check.__doc__ = f"Every {table} file written this run has exactly the contract's schema."
    return check


def _with_plan(fn: Callable) -> Callable:
    """Run a check against this run's plan; a run that loaded nothing passes trivially."""

    def wrapper(context: dg.AssetCheckExecutionContext, loader: BatchLoaderResource):
        store = loader.output.store()
        plan = checks.plan_for_run(store, context.op_execution_context.run_id)
        if plan is None:
            return dg.AssetCheckResult(passed=True, metadata={"note": "nothing loaded this run"})
        return fn(store, plan)

    wrapper.__doc__ = fn.__doc__
    wrapper.__name__ = fn.__name__
    return wrapper


def _rows_this_run_equal(store, plan, table: str, expected: int) -> dg.AssetCheckResult:
    rows = checks.row_count(store, checks.run_files(store, plan, table))
    return dg.AssetCheckResult(
        passed=rows == expected, metadata={"expected": expected, "rows": rows}
    )


@dg.asset_check(asset="buffer_meta", blocking=True)
@_with_plan
def buffer_meta_rows_equal_messages_read(store, plan):
    """buffer_meta has one row for every message read this run."""
    read = checks.row_count(store, checks.run_files(store, plan, "raw_messages"))
    return _rows_this_run_equal(store, plan, "buffer_meta", read)


@dg.asset_check(asset="lib_server_lobby", blocking=True)
@_with_plan
def lobby_rows_equal_participants(store, plan):
    """lib_server_lobby has one row per participant of every loaded 'Starting Match'."""
    return _rows_this_run_equal(
        store, plan, "lib_server_lobby", checks.expected_lobby_rows(store, plan)
    )


@dg.asset_check(asset="lib_server_game", blocking=True)
@_with_plan
def game_rows_equal_attacks(store, plan):
    """lib_server_game has one row per loaded 'Attack Completed'."""
    return _rows_this_run_equal(store, plan, "lib_server_game", checks.attack_messages(store, plan))


@dg.asset_check(asset="buffer_meta", blocking=True)
@_with_plan
def buffer_meta_msg_id_unique(store, plan):
    """No message appears twice in buffer_meta: this run's files, and every file's range."""
    problems = offset_checks.duplicates(store, plan)
    return dg.AssetCheckResult(
        passed=not problems,
        metadata={
            "duplicates": sum(problems.values()),
            "problems": dg.MetadataValue.json(problems),
        },
    )


@dg.asset_check(asset="buffer_meta", blocking=True)
def buffer_meta_offsets_contiguous(
    context: dg.AssetCheckExecutionContext, loader: BatchLoaderResource
):
    """Every record Kafka serves (read_committed) in this run's ranges is in buffer_meta, and
    no other: offsets holding a transaction marker or an aborted record may be missing. Only
    a file that lacks offsets has its range read again from Kafka, apart from recorded gaps."""
    store = loader.output.store()
    plan = checks.plan_for_run(store, context.op_execution_context.run_id)
    if plan is None:
        return dg.AssetCheckResult(passed=True, metadata={"note": "nothing loaded this run"})
    topics = sorted({c.topic for c in plan.chunks})
    with KafkaOffsets(loader.kafka.client_config(), topics, loader.batch_messages) as kafka:
        report = offset_checks.contiguity(store, plan, kafka)
    return contiguity_result(report)


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


@dg.asset_check(asset="quarantine")
@_with_plan
def quarantine_rate_is_low(store, plan):
    """Under 1% of this run's messages were quarantined (a warning, not a stop)."""
    read = checks.row_count(store, checks.run_files(store, plan, "raw_messages"))
    bad = checks.row_count(store, checks.run_files(store, plan, "quarantine"))
    rate = bad / read if read else 0.0
    return dg.AssetCheckResult(
        passed=rate <= QUARANTINE_WARN_RATE,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"quarantined": bad, "read": read, "rate": round(rate, 6)},
    )


SCHEMA_CHECKS = [_schema_check(table) for table in contract.TABLES]
ALL_CHECKS = [
    *SCHEMA_CHECKS,
    buffer_meta_rows_equal_messages_read,
    lobby_rows_equal_participants,
    game_rows_equal_attacks,
    buffer_meta_msg_id_unique,
    buffer_meta_offsets_contiguous,
    quarantine_rate_is_low,
]
