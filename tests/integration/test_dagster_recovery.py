"""A SIGKILLed Dagster run is noticed, and the sensor's next run loads everything once."""

import json
import os
import time
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest

from superhero_assets.core import contract
from tests.support.elt_env import EltEnv
from tests.support.stack import free_port, superhero

pytestmark = pytest.mark.integration
ARTIFACTS = Path(os.environ.get("SUPERHERO_TEST_ARTIFACTS", ".superhero-test/artifacts"))


def runs(home: Path) -> list[dg.RunRecord]:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return list(instance.get_run_records(dg.RunsFilter(job_name="superhero_elt_job")))


def test_a_killed_run_is_failed_and_a_sensor_run_loads_everything_once(stack, tmp_path):
    elt = EltEnv.create(stack, tmp_path / "data")
    home, killed = tmp_path / "dagster_home", tmp_path / "killed"
    env = {
        "SUPERHERO_STATE_DIR": str(tmp_path / "state"),
        "DAGSTER_HOME": str(home),
        "OUTPUT_FS": str(elt.output),
        "SUPERHERO_TOPICS": ",".join(elt.topics),
        "SENSOR_INTERVAL_S": "2",
        "SENSOR_LAG_THRESHOLD": "1",
        "KAFKA_BOOTSTRAP_SERVERS": stack.kafka_bootstrap_servers,
        "REDIS_HOST": stack.redis_host,
        "REDIS_PORT": str(stack.redis_port),
        # The first run to land a chunk SIGKILLs itself, as `kill -9` of its process would.
        "SUPERHERO_KILL_AT": "mid_landing",
        "SUPERHERO_KILL_ONCE": str(killed),
    }
    # Everything is produced first, so the sensor's first request covers it all, and the
    # one after the killed run asks again for the same offsets.
    expected = elt.produce_matches(8)
    started = superhero("dev", "--detach", "--port", str(free_port()), env=env)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            done = [r for r in runs(home) if r.dagster_run.status == dg.DagsterRunStatus.SUCCESS]
            if done:
                break
            time.sleep(2)
        records = runs(home)
        statuses = sorted(r.dagster_run.status.value for r in records)
        assert killed.exists(), statuses  # the first run did die
        assert statuses == ["FAILURE", "SUCCESS"], statuses
        dead = next(r for r in records if r.dagster_run.status == dg.DagsterRunStatus.FAILURE)
        retry = next(r for r in records if r.dagster_run.status == dg.DagsterRunStatus.SUCCESS)
        assert retry.dagster_run.tags["dagster/run_key"] == (
            dead.dagster_run.tags["dagster/run_key"] + "-retry1"
        )
        elt.assert_exactly_once(expected["messages"])
        assert (
            sum(
                pq.read_metadata(f).num_rows
                for f in elt.output.glob("lib_server_game/**/*.parquet")
            )
            == (expected["game"])
        )
        assert elt.state()[contract.last_offset_key(elt.game)] is not None
        delay = {
            "kill_to_retry_success_s": round(retry.end_time - killed.stat().st_mtime, 1),
            "kill_to_dead_run_failed_s": round(dead.end_time - killed.stat().st_mtime, 1),
        }
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "recovery.json").write_text(json.dumps(delay))
        print(f"recovery after SIGKILL: {delay}")
    finally:
        superhero("dev", "--stop", env=env)
        elt.cleanup()
