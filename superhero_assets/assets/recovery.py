"""Fast recovery in Dagster: a failed run's locks come back at once, a dead run is failed.

Dagster's default run launcher cannot tell that a run's process was killed: the run stays
STARTED, holds the ELT pool's one slot, and the lag sensor waits for it forever. Each ELT
run announces itself in Redis from a heartbeat thread (core/heartbeat.py); a STARTED run
whose announcement has lapsed for longer than the lock TTL is dead, and is marked failed.
"""

import time

import dagster as dg

from superhero_assets.core import heartbeat
from superhero_assets.resources import BatchLoaderResource

_IN_PROGRESS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]
# A retry's run key is the first one's with `-retryN`: deterministic, and never one that
# Dagster has already used (it skips a request whose key a run already has).
MAX_RETRIES = 50


def run_in_progress(instance: dg.DagsterInstance, job_name: str) -> dg.RunRecord | None:
    records = instance.get_run_records(
        dg.RunsFilter(job_name=job_name, statuses=_IN_PROGRESS), limit=1
    )
    return records[0] if records else None


def fail_if_dead(
    instance: dg.DagsterInstance, record: dg.RunRecord, loader: BatchLoaderResource
) -> bool:
    """Mark a STARTED run failed when its process stopped announcing itself; give its locks
    back. True if it was dead."""
    run = record.dagster_run
    started = record.start_time or record.create_timestamp.timestamp()
    if run.status != dg.DagsterRunStatus.STARTED or time.time() - started < loader.lock_ttl_s:
        return False  # still starting: it announces itself in its first step
    r = loader.redis_state.client()
    if heartbeat.run_is_alive(r, run.run_id):
        return False
    instance.report_run_failed(
        run,
        f"The run's process stopped: no heartbeat for {loader.lock_ttl_s}s (ELT_LOCK_TTL_S). "
        "Its plan stays pending; the next run redoes it.",
    )
    heartbeat.release_locks_of_run(r, loader.output.store(), run.run_id)
    return True


def retry_key(instance: dg.DagsterInstance, base: str) -> str | None:
    """base, or base-retryN after N runs with those keys failed; None while one is in
    progress or once one succeeded."""
    for attempt in range(MAX_RETRIES + 1):
        key = base if attempt == 0 else f"{base}-retry{attempt}"
        records = instance.get_run_records(dg.RunsFilter(tags={"dagster/run_key": key}), limit=1)
        if not records:
            return key
        if records[0].dagster_run.status not in (
            dg.DagsterRunStatus.FAILURE,
            dg.DagsterRunStatus.CANCELED,
        ):
            return None
    return None


@dg.run_failure_sensor(
    name="release_locks_of_failed_runs",
    minimum_interval_seconds=5,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def release_locks_of_failed_runs(
    context: dg.RunFailureSensorContext, loader: BatchLoaderResource
) -> None:
    """Gives a failed run's Kafka topic locks back at once, instead of after their TTL."""
    released = heartbeat.release_locks_of_run(
        loader.redis_state.client(), loader.output.store(), context.dagster_run.run_id
    )
    if released:
        context.log.info(f"released the locks of {', '.join(released)}")
