"""The WORKER_CHANNEL trigger, and two runs started together never loading an offset twice."""

import os
import subprocess
import sys
import time

import pytest
import redis

from superhero_tools.devserver import ELT_JOB, dagster_cli
from tests.support.elt_env import EltEnv

pytestmark = pytest.mark.integration


def dagster_env(elt: EltEnv, tmp_path) -> dict[str, str]:
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "OUTPUT_FS": str(elt.output),
        "SUPERHERO_TOPICS": ",".join(elt.topics),
        "KAFKA_BOOTSTRAP_SERVERS": elt.stack.kafka_bootstrap_servers,
        "REDIS_HOST": elt.stack.redis_host,
        "REDIS_PORT": str(elt.stack.redis_port),
        "ELT_LOCK_TTL_S": "60",
    }


def test_a_message_on_worker_channel_runs_the_elt_job(elt, tmp_path):
    expected = elt.produce_matches(6)
    channel = f"superhero-test-{elt.game}"
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "superhero_tools.cli",
            "worker",
            "--channel",
            channel,
            "--max-runs",
            "1",
        ],
        env={**dagster_env(elt, tmp_path), "SUPERHERO_STATE_DIR": str(tmp_path / "state")},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        r = redis.Redis(host=elt.stack.redis_host, port=elt.stack.redis_port)
        deadline = time.monotonic() + 30
        while r.publish(channel, "run") == 0:  # wait until the worker has subscribed
            assert time.monotonic() < deadline, "the worker never subscribed"
            time.sleep(0.2)
        out, _ = worker.communicate(timeout=240)
    finally:
        worker.kill()
    assert worker.returncode == 0, out
    assert "run 1 finished with exit code 0" in out, out
    seen = elt.offset_counts()
    assert len(seen) == expected["messages"] and max(seen.values()) == 1


def test_two_runs_started_together_never_load_an_offset_twice(elt, tmp_path):
    expected = elt.produce_matches(30)
    env = dagster_env(elt, tmp_path)
    # The Dagster instance exists before the race, as it does for any deployed worker; two
    # processes creating a fresh SQLite instance at once is a Dagster start-up race, not ours.
    subprocess.run(dagster_cli("instance", "migrate"), env=env, check=True, capture_output=True)
    argv = dagster_cli(*ELT_JOB)
    runs = [
        subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    codes = [run.returncode for run in runs]
    assert 0 in codes, outputs
    for code, out in zip(codes, outputs, strict=True):
        # The run that lost the race is refused by the lock; it never loads anything.
        assert code == 0 or "Another run holds the lock" in out, out
    # Whatever the race left for later is picked up by one more run, exactly once.
    elt.run()
    seen = elt.offset_counts()
    assert len(seen) == expected["messages"]
    assert max(seen.values()) == 1
