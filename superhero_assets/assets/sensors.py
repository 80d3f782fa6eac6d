"""The Kafka-lag sensor: request a load when enough messages, or old enough ones, wait."""

import hashlib
import json

import dagster as dg
from pydantic import Field

from superhero_assets.assets.elt import ELT_GROUP
from superhero_assets.core import lag
from superhero_assets.core.consume import make_consumer
from superhero_assets.resources import BatchLoaderResource

elt_job = dg.define_asset_job(
    "superhero_elt_job",
    selection=dg.AssetSelection.groups(ELT_GROUP),
    description="One batch run: raw landing, the five tables and quarantine, the Redis commit.",
    tags={"superhero/elt": "batch"},
)


class LagPolicy(dg.ConfigurableResource):
    """When the lag sensor asks for a run."""

    lag_threshold: int = Field(default=1000, description="Messages waiting in either topic.")
    max_age_s: float = Field(default=30.0, description="Age of the oldest unloaded message.")


def run_key(lags: list[lag.PartitionLag]) -> str:
    """Deterministic from the end offsets the run would load."""
    ends = ",".join(
        f"{p.topic}:{p.partition}={p.high}"
        for p in sorted(lags, key=lambda p: (p.topic, p.partition))
    )
    return "lag-" + hashlib.sha1(ends.encode()).hexdigest()[:16]


def observation(lags: list[lag.PartitionLag]) -> dg.AssetObservation:
    metadata: dict[str, int] = {"lag_total": sum(p.lag for p in lags)}
    metadata.update({f"lag {p.topic}[{p.partition}]": p.lag for p in lags})
    return dg.AssetObservation(asset_key="kafka_offsets", metadata=metadata)


def _elt_run_in_progress(context: dg.SensorEvaluationContext) -> str | None:
    records = context.instance.get_run_records(
        dg.RunsFilter(
            job_name=elt_job.name,
            statuses=[
                dg.DagsterRunStatus.QUEUED,
                dg.DagsterRunStatus.NOT_STARTED,
                dg.DagsterRunStatus.STARTING,
                dg.DagsterRunStatus.STARTED,
            ],
        ),
        limit=1,
    )
    return records[0].dagster_run.run_id if records else None


def evaluate(
    context: dg.SensorEvaluationContext, loader: BatchLoaderResource, policy: LagPolicy
) -> dg.SensorResult:
    consumer = make_consumer(loader.kafka.client_config())
    try:
        lags = lag.measure(
            consumer, loader.redis_state.client(), loader.output.store(), loader.topics()
        )
        stale = lag.stale_partitions(consumer, lags, policy.max_age_s)
    finally:
        consumer.close()
    per_topic = {t: sum(p.lag for p in lags if p.topic == t) for t in loader.topics()}
    events = [observation(lags)]
    summary = ", ".join(f"{t}: {n}" for t, n in per_topic.items())
    due = max(per_topic.values(), default=0) >= policy.lag_threshold or bool(stale)
    if not due:
        return dg.SensorResult(
            skip_reason=f"lag {summary} is under {policy.lag_threshold} and no waiting "
            f"message is older than {policy.max_age_s:.0f}s",
            asset_events=events,
        )
    key = run_key(lags)
    cursor = json.loads(context.cursor) if context.cursor else {}
    if cursor.get("run_key") == key:
        return dg.SensorResult(
            skip_reason=f"a run was already requested for these offsets ({key}); lag {summary}",
            asset_events=events,
        )
    busy = _elt_run_in_progress(context)
    if busy:
        return dg.SensorResult(
            skip_reason=f"run {busy} is still loading; lag {summary}", asset_events=events
        )
    ends = {f"{p.topic}:{p.partition}": p.high for p in lags}
    reason = f"stale: {[f'{p.topic}[{p.partition}]' for p in stale]}" if stale else "lag"
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
