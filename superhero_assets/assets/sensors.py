"""The Kafka-lag sensor: request a load when enough messages, or old enough ones, wait."""

import hashlib
import json

import dagster as dg
from pydantic import Field

from superhero_assets.assets import recovery
from superhero_assets.assets.elt import ELT_GROUP
from superhero_assets.core import binding, lag
from superhero_assets.core.consume import make_consumer
from superhero_assets.resources import BatchLoaderResource

elt_job = dg.define_asset_job(
    "superhero_elt_job",
    selection=dg.AssetSelection.groups(ELT_GROUP),
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


def evaluate(
    context: dg.SensorEvaluationContext, loader: BatchLoaderResource, policy: LagPolicy
) -> dg.SensorResult:
    # A dead run is failed whatever else this tick finds: it would hold the pool's slot.
    for run_id in recovery.fail_dead_runs(context.instance, loader, elt_job.name):
        context.log.warning(f"run {run_id} died (no heartbeat): marked failed")
    consumer = make_consumer(loader.kafka.client_config())
    try:
        # Offsets of another output or cluster: every run would refuse, so ask for none.
        binding.check_output(
            loader.redis_state.client(), loader.output.store(), consumer, loader.topics()
        )
        lags = lag.measure(
            consumer, loader.redis_state.client(), loader.output.store(), loader.topics()
        )
        stale = lag.stale_partitions(consumer, lags, policy.max_age_s)
    finally:
        consumer.close()
    events = [observation(lags)]
    broken = [p.error for p in lags if p.error]
    if broken:  # never shown as lag 0: the observation says why, and the tick fails
        context.instance.report_runless_asset_event(events[0])
        raise LagUnknown(broken[0] + (f" (and {len(broken) - 1} more)" if len(broken) > 1 else ""))
    per_topic = {t: sum(p.lag for p in lags if p.topic == t) for t in loader.topics()}
    summary = ", ".join(f"{t}: {n}" for t, n in per_topic.items())
    due = max(per_topic.values(), default=0) >= policy.lag_threshold or bool(stale)
    busy = recovery.run_in_progress(context.instance, elt_job.name)
    if not due:
        return dg.SensorResult(
            skip_reason=f"lag {summary} is under {policy.lag_threshold} and no waiting "
            f"message is older than {policy.max_age_s:.0f}s",
            asset_events=events,
        )
    if busy:
        return dg.SensorResult(
            skip_reason=f"run {busy.dagster_run.run_id} is still loading; lag {summary}",
            asset_events=events,
        )
    held = recovery.locked_topics(loader)
    if held:
        return dg.SensorResult(
            skip_reason=f"another run (superhero load, a worker) holds {', '.join(held)}; "
            f"lag {summary}",
            asset_events=events,
        )
    key, why_not = recovery.retry_key(context.instance, run_key(lags))
    cursor = json.loads(context.cursor) if context.cursor else {}
    if key is not None and cursor.get("run_key") == key:
        key, why_not = None, f"a run was already requested for these offsets ({key})"
    if key is None:
        return dg.SensorResult(skip_reason=f"{why_not}; lag {summary}", asset_events=events)
    ends = {f"{p.topic}:{p.partition}": p.high for p in lags}
    reason = f"stale: {[p.name for p in stale]}" if stale else "lag"
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=key,
                tags={"superhero/trigger": "kafka_lag_sensor", "superhero/reason": reason},
            )
        ],
        cursor=json.dumps({"run_key": key, "requested_ends": ends}),
        asset_events=events,
    )


def build_lag_sensor(interval_s: int) -> dg.SensorDefinition:
    @dg.sensor(
        name="kafka_lag_sensor",
        job=elt_job,
        minimum_interval_seconds=interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def kafka_lag_sensor(
        context: dg.SensorEvaluationContext, loader: BatchLoaderResource, lag_policy: LagPolicy
    ):
        """Requests a load when either topic's lag reaches the threshold or a message waits
        longer than the maximum age; records the lag per partition for the UI."""
        return evaluate(context, loader, lag_policy)

    return kafka_lag_sensor
