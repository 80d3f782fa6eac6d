"""Fast recovery in Dagster: a failed run's locks come back at once, a dead run is failed.

Dagster's default run launcher cannot tell that a run's process was killed: the run stays
STARTED, holds the ELT pool's one slot, and the lag sensor waits for it forever. Each ELT
run announces itself in Redis from a heartbeat thread (core/run/heartbeat.py); a STARTED run
whose announcement has lapsed for longer than the lock TTL is dead, and is marked failed.
"""

import time

import dagster as dg

from superhero_assets.core.run import heartbeat, locks
from superhero_assets.resources import BatchLoaderResource

_IN_PROGRESS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]
# The job of "Materialize all" and of `dagster asset materialize`.
IMPLICIT_ASSET_JOB = "__ASSET_JOB"
# A retry's run key is the first one's with `-retryN`: deterministic, and never one that
# Dagster has already used (it skips a request whose key a run already has).
MAX_RETRIES = 20
RETRY_BACKOFF_S, MAX_BACKOFF_S = 5.0, 600.0
# A run announces itself in its first step; until then (process start, imports), for this
# many lock TTLs, it is never judged dead.
START_GRACE_TTLS = 3


def run_in_progress(
    instance: dg.DagsterInstance, job_name: str, partition_key: str | None = None
) -> dg.RunRecord | None:
    """A queued or running run that will load: this job's, or one whose selection holds
    raw_messages ("Materialize all"). A run asked for behind it would find nothing to load.
    With a shard's partition_key, only a run of that shard (or of no shard) counts."""
    for record in instance.get_run_records(dg.RunsFilter(statuses=_IN_PROGRESS), limit=50):
        run = record.dagster_run
        run_shard = run.tags.get("dagster/partition")
        if partition_key is not None and run_shard not in (None, partition_key):
            continue
        selection = run.asset_selection
        everything = selection is None and run.job_name == IMPLICIT_ASSET_JOB
        if (
            run.job_name == job_name
            or everything
            or (selection is not None and dg.AssetKey("raw_messages") in selection)
        ):
            return record
    return None


def fail_dead_runs(
    instance: dg.DagsterInstance, loader: BatchLoaderResource, job_name: str
) -> list[str]:
    """Mark failed every STARTED run that ran the ELT (this job's, or one that announced
    itself, e.g. "Materialize all") and whose process stopped announcing itself; give its
    locks back. Returns their run ids."""
    started = instance.get_run_records(
        dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]), limit=50
    )
    r = loader.redis_state.client()
    dead = []
    for record in started:
        run = record.dagster_run
        since = record.start_time or record.create_timestamp.timestamp()
        if time.time() - since < START_GRACE_TTLS * loader.lock_ttl_s:
            continue  # still starting: it announces itself in its first step
        if heartbeat.run_is_alive(r, run.run_id):
            continue
        if run.job_name != job_name and not heartbeat.run_was_seen(r, run.run_id):
            continue  # not an ELT run
        instance.report_run_failed(
            run,
            f"The run's process stopped: no heartbeat for {loader.lock_ttl_s}s "
            "(ELT_LOCK_TTL_S). Its plan stays pending; the next run redoes it.",
        )
        heartbeat.release_locks_of_run(r, loader.output.store(), run.run_id)
        dead.append(run.run_id)
    return dead


def locked_partitions(loader: BatchLoaderResource) -> list[str]:
    """The topic-partitions whose lock some run holds now (Dagster's or not)."""
    return locks.held_locks(loader.redis_state.client(), loader.topics())


def retry_key(instance: dg.DagsterInstance, base: str) -> tuple[str | None, str]:
    """(base, or base-retryN after N runs with those keys failed; why not, if None).

    None while one is in progress, once one succeeded, and while backing off after a
    failure: a failure that will happen again (a full disk) is not retried every tick.
    """
    for attempt in range(MAX_RETRIES + 1):
        key = base if attempt == 0 else f"{base}-retry{attempt}"
        records = instance.get_run_records(dg.RunsFilter(tags={"dagster/run_key": key}), limit=1)
        if not records:
            return key, ""
        record = records[0]
        if record.dagster_run.status not in (
            dg.DagsterRunStatus.FAILURE,
            dg.DagsterRunStatus.CANCELED,
        ):
            return None, f"a run was already requested for these offsets ({key})"
        wait_s = min(RETRY_BACKOFF_S * 2**attempt, MAX_BACKOFF_S)
        ended = record.end_time or record.create_timestamp.timestamp()
        if time.time() - ended < wait_s:
            return None, f"run {key} failed; the next try waits {wait_s:.0f}s after it"
    return None, f"the runs for these offsets failed {MAX_RETRIES + 1} times; see their logs"


@dg.run_failure_sensor(
    name="release_locks_of_failed_runs",
    description="Gives a failed ELT run's Kafka partition locks back at once, so the next run "
    "need not wait for them to expire.",
    minimum_interval_seconds=5,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def release_locks_of_failed_runs(
    context: dg.RunFailureSensorContext, loader: BatchLoaderResource
) -> None:
    """Gives a failed run's Kafka partition locks back at once, instead of after their TTL."""
    released = heartbeat.release_locks_of_run(
        loader.redis_state.client(), loader.output.store(), context.dagster_run.run_id
    )
    if released:
        context.log.info(f"released the locks of {', '.join(released)}")
