"""Each table's `fresh` check: does any of its unloaded messages wait longer than the window?

Dagster's own freshness policies judge the time of the last materialization, so a caught-up
idle pipeline would turn stale and a run that loaded nothing would look fresh. This check
judges the data instead. The lag sensor evaluates it when the answer changes (and every few
minutes otherwise); run on its own, or in "Materialize all" after the commit, it measures
there and then. The ELT job leaves it out: the sensor that starts the job measures anyway.
"""

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import dagster as dg
from confluent_kafka import Consumer
from pydantic import Field

from superhero_assets.core import contract
from superhero_assets.core.kafka import lag
from superhero_assets.core.kafka.consume import make_consumer
from superhero_assets.core.quality import freshness
from superhero_assets.core.quality.freshness import Freshness, FreshnessWindow, TableFreshness
from superhero_assets.resources import BatchLoaderResource

FRESH_CHECK = "fresh"
# Unchanged answers are still reported this often, so the check's time says it is current.
REPORT_EVERY_S = 300.0


class FreshnessLimits(dg.ConfigurableResource):
    """How long an unloaded message may wait before a table is late (warning) or stale."""

    warn_after_s: float = Field(default=300.0, description="Late after this long (FRESH_WARN_S).")
    fail_after_s: float = Field(default=900.0, description="Stale after this long (FRESH_FAIL_S).")

    def window(self) -> FreshnessWindow:
        if self.fail_after_s < self.warn_after_s:
            raise dg.Failure(
                f"FRESH_FAIL_S ({self.fail_after_s:g}) is shorter than FRESH_WARN_S "
                f"({self.warn_after_s:g}): set it to at least that"
            )
        return FreshnessWindow(self.warn_after_s, self.fail_after_s)


def result_fields(tf: TableFreshness, window: FreshnessWindow) -> dict:
    """What a check result or a reported evaluation says about one table."""
    metadata = {
        "state": tf.state.value,
        "unloaded_messages": tf.unloaded,
        "late_partitions": dg.MetadataValue.json(list(tf.late)),
        "stale_partitions": dg.MetadataValue.json(list(tf.stale)),
        "warn_after_s": window.warn_s,
        "fail_after_s": window.fail_s,
    }
    if tf.oldest_age_s is not None:
        metadata["oldest_unloaded_age_s"] = tf.oldest_age_s
    return {
        "passed": tf.state is Freshness.FRESH,
        "severity": dg.AssetCheckSeverity.ERROR
        if tf.state is Freshness.STALE
        else dg.AssetCheckSeverity.WARN,
        "metadata": metadata,
        "description": tf.describe(window),
    }


FRESH_SPECS = [
    dg.AssetCheckSpec(
        FRESH_CHECK,
        asset=table,
        # After the commit in a run that loads: measured before it, the run's own messages
        # would count as waiting.
        additional_deps=["kafka_offsets"],
        description=f"No message bound for {table} waits longer than the freshness window.",
    )
    for table in contract.TABLES
]


@dg.multi_asset_check(specs=FRESH_SPECS, can_subset=True, name="tables_are_fresh")
def tables_are_fresh(
    context: dg.AssetCheckExecutionContext,
    loader: BatchLoaderResource,
    freshness_limits: FreshnessLimits,
) -> Iterator[dg.AssetCheckResult]:
    """Measures, once for every selected table, how long its oldest unloaded message waits."""
    tables = tuple(key.asset_key.path[-1] for key in context.selected_asset_check_keys)
    consumer = make_consumer(loader.kafka.client_config())
    try:
        lags = lag.measure(
            consumer, loader.redis_state.client(), loader.output.store(), loader.topics()
        )
        broken = [p.error for p in lags if p.error]
        if broken:
            raise dg.Failure(broken[0])
        window = freshness_limits.window()
        found = freshness.measure(consumer, lags, window, tables)
        found = freshness.with_oldest_age(consumer, lags, found)
    finally:
        consumer.close()
    for table, tf in found.items():
        yield dg.AssetCheckResult(
            asset_key=table, check_name=FRESH_CHECK, **result_fields(tf, window)
        )


def unmeasurable(tables: list[str], why: str) -> list[dg.AssetCheckEvaluation]:
    """Failed evaluations when the lag cannot be measured: never a fresh answer kept green."""
    return [
        dg.AssetCheckEvaluation(
            asset_key=dg.AssetKey(table),
            check_name=FRESH_CHECK,
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"state": "unknown"},
            description=f"freshness cannot be measured: {why}",
        )
        for table in tables
    ]


@dataclass
class FreshnessReport:
    """What the sensor last reported, kept in its cursor: {table: state} and when."""

    states: dict[str, str] = field(default_factory=dict)
    reported_at: float = 0.0


def sensor_report(
    consumer: Consumer,
    lags: list[lag.PartitionLag],
    window: FreshnessWindow,
    last: FreshnessReport,
) -> tuple[list[dg.AssetCheckEvaluation], FreshnessReport]:
    """Evaluations of every table's check when an answer changed or REPORT_EVERY_S passed."""
    now = time.time()
    found = freshness.measure(consumer, lags, window, now_s=now)
    states = {table: tf.state.value for table, tf in found.items()}
    if states == last.states and now - last.reported_at < REPORT_EVERY_S:
        return [], last
    found = freshness.with_oldest_age(consumer, lags, found)
    events = [
        dg.AssetCheckEvaluation(
            asset_key=dg.AssetKey(table), check_name=FRESH_CHECK, **result_fields(tf, window)
        )
        for table, tf in found.items()
    ]
    return events, FreshnessReport(states, now)
