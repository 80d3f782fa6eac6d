"""The Kafka-lag sensor: request a load when enough messages, or old enough ones, wait."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

import dagster as dg
from pydantic import Field

from superhero_assets.assets import freshness, recovery
from superhero_assets.assets.elt import ELT_GROUP
from superhero_assets.assets.shards import SHARD_COUNT
from superhero_assets.core.contract import TABLES
from superhero_assets.core.kafka import lag
from superhero_assets.core.kafka.consume import make_consumer
from superhero_assets.core.run import binding
from superhero_assets.core.run.shard import Shard, all_shards
from superhero_assets.resources import BatchLoaderResource

elt_job = dg.define_asset_job(
    "superhero_elt_job",
    # Without the tables' fresh checks: the sensor that starts this job measures that itself.
    selection=dg.AssetSelection.groups(ELT_GROUP)
    - dg.AssetSelection.checks(*freshness.tables_are_fresh.check_keys),
    description="One batch run: raw landing, the five tables and quarantine, the Redis commit.",
    tags={"superhero/elt": "batch"},
)


class LagUnknown(RuntimeError):
    """A partition's lag cannot be measured; the message says why and what to do."""


class LagPolicy(dg.ConfigurableResource):
    """When the lag sensor asks for a run."""

    lag_threshold: int = Field(default=1000, description="Messages waiting in either topic.")
    max_age_s: float = Field(default=30.0, description="Age of the oldest unloaded message.")


def run_key(lags: list[lag.PartitionLag]) -> str:
    """Deterministic from the offsets the run would load, first and last: a run that made
    progress, even short of these ends (it redid a dead run's smaller plan), changes it."""
    ranges = ",".join(
        f"{p.topic}:{p.partition}={p.next_offset}-{p.high}"
        for p in sorted(lags, key=lambda p: (p.topic, p.partition))
    )
    return "lag-" + hashlib.sha1(ranges.encode()).hexdigest()[:16]


def observation(lags: list[lag.PartitionLag]) -> dg.AssetObservation:
    measured = [p for p in lags if p.error is None]
    metadata: dict[str, int | str] = {"lag_total": sum(p.lag for p in measured)}
    metadata.update({f"lag {p.name}": p.lag for p in measured})
    metadata.update({f"lag {p.name}": f"error: {p.error}" for p in lags if p.error})
    return dg.AssetObservation(asset_key="kafka_offsets", metadata=metadata)


@dataclass
class Cursor:
    """The sensor's memory between ticks: the last run it asked for per shard, and what it
    last said about freshness."""

    run_keys: dict[str, str] = field(default_factory=dict)  # per shard key
    requested_ends: dict[str, int] = field(default_factory=dict)
    fresh_report: freshness.FreshnessReport = field(default_factory=freshness.FreshnessReport)

    @classmethod
    def parse(cls, text: str | None) -> Cursor:
        data = json.loads(text) if text else {}
        run_keys = data.get("run_keys", {})
        if data.get("run_key"):  # a cursor from before shards: the one whole load's
            run_keys = {Shard().key: data["run_key"]}
        return cls(
            run_keys,
            data.get("requested_ends", {}),
            freshness.FreshnessReport(**data.get("fresh_report", {})),
        )

    def dump(self) -> str:
        return json.dumps(asdict(self))


def evaluate(
    context: dg.SensorEvaluationContext,
    loader: BatchLoaderResource,
    policy: LagPolicy,
    limits: freshness.FreshnessLimits,
    shards: int = SHARD_COUNT,
) -> dg.SensorResult:
    # A dead run is failed whatever else this tick finds: it would hold the pool's slot.
    for run_id in recovery.fail_dead_runs(context.instance, loader, elt_job.name):
        context.log.warning(f"run {run_id} died (no heartbeat): marked failed")
    cursor = Cursor.parse(context.cursor)
    consumer = make_consumer(loader.kafka.client_config())
    try:
        # Offsets of another output or cluster: every run would refuse, so ask for none.
        binding.check_output(
            loader.redis_state.client(), loader.output.store(), consumer, loader.topics()
        )
        lags = lag.measure(
            consumer, loader.redis_state.client(), loader.output.store(), loader.topics()
        )
        broken = [p.error for p in lags if p.error]
        if broken:  # never shown as lag 0 or as fresh: the events say why, the tick fails
            for event in (observation(lags), *freshness.unmeasurable(list(TABLES), broken[0])):
                context.instance.report_runless_asset_event(event)
            raise LagUnknown(
                broken[0] + (f" (and {len(broken) - 1} more)" if len(broken) > 1 else "")
            )
        stale = lag.stale_partitions(consumer, lags, policy.max_age_s)
        checked, cursor.fresh_report = freshness.sensor_report(
            consumer, lags, limits.window(), cursor.fresh_report
        )
    finally:
        consumer.close()
    events = [observation(lags), *checked]
    requests, skipped = [], []
    for shard in all_shards(shards):
        mine = [p for p in lags if shard.owns(p.partition)]
        late = [p for p in stale if shard.owns(p.partition)]
        request = shard_request(context, loader, policy, cursor, shard, mine, late)
        if isinstance(request, str):
            skipped.append(request if shard.is_whole else f"shard {shard}: {request}")
        else:
            requests.append(request)
    if not requests:
        return dg.SensorResult(
            skip_reason="; ".join(skipped), asset_events=events, cursor=cursor.dump()
        )
    return dg.SensorResult(run_requests=requests, cursor=cursor.dump(), asset_events=events)


def shard_request(
    context: dg.SensorEvaluationContext,
    loader: BatchLoaderResource,
    policy: LagPolicy,
    cursor: Cursor,
    shard: Shard,
    lags: list[lag.PartitionLag],
    stale: list[lag.PartitionLag],
) -> dg.RunRequest | str:
    """The run this shard's lag asks for, or why none (the whole load when unsharded)."""
    per_topic = {t: sum(p.lag for p in lags if p.topic == t) for t in loader.topics()}
    summary = ", ".join(f"{t}: {n}" for t, n in per_topic.items())
    if not (max(per_topic.values(), default=0) >= policy.lag_threshold or stale):
        return (
            f"lag {summary} is under {policy.lag_threshold} and no waiting "
            f"message is older than {policy.max_age_s:.0f}s"
        )
    partition_key = None if shard.is_whole else shard.key
    busy = recovery.run_in_progress(context.instance, elt_job.name, partition_key)
    if busy:
        return f"run {busy.dagster_run.run_id} is still loading; lag {summary}"
    mine = {f"{p.topic}:{p.partition}" for p in lags}
    held = [name for name in recovery.locked_partitions(loader) if name in mine]
    if held:
        return f"another run (superhero load, a worker) holds {', '.join(held)}; lag {summary}"
    base = run_key(lags) if partition_key is None else f"{partition_key}-{run_key(lags)}"
    key, why_not = recovery.retry_key(context.instance, base)
    if key is not None and cursor.run_keys.get(shard.key) == key:
        key, why_not = None, f"a run was already requested for these offsets ({key})"
    if key is None:
        return f"{why_not}; lag {summary}"
    cursor.run_keys[shard.key] = key
    cursor.requested_ends.update({f"{p.topic}:{p.partition}": p.high for p in lags})
    reason = f"stale: {[p.name for p in stale]}" if stale else "lag"
    return dg.RunRequest(
        run_key=key,
        partition_key=partition_key,
        tags={"superhero/trigger": "kafka_lag_sensor", "superhero/reason": reason},
    )


def build_lag_sensor(interval_s: int, shards: int = SHARD_COUNT) -> dg.SensorDefinition:
    @dg.sensor(
        name="kafka_lag_sensor",
        job=elt_job,
        minimum_interval_seconds=interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Requests a load when a topic's lag reaches SENSOR_LAG_THRESHOLD or a "
        "message waits longer than SENSOR_MAX_AGE_S, for each shard that lags; records the "
        "lag per partition on "
        "kafka_offsets and evaluates each table's `fresh` check.",
    )
    def kafka_lag_sensor(
        context: dg.SensorEvaluationContext,
        loader: BatchLoaderResource,
        lag_policy: LagPolicy,
        freshness_limits: freshness.FreshnessLimits,
    ):
        """Requests a load when either topic's lag reaches the threshold or a message waits
        longer than the maximum age; records the lag and the tables' freshness for the UI."""
        return evaluate(context, loader, lag_policy, freshness_limits, shards)

    return kafka_lag_sensor
