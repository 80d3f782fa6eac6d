"""SUPERHERO_EXECUTOR=celery: a run's steps execute on dagster-celery workers that the test
starts over the stack's Redis, and every message lands exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import redis

from superhero_assets.core import contract
from tests.support.dagster_cli import materialize_command
from tests.support.elt_env import EltEnv

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
WORKERS = ("superhero-a", "superhero-b")


def bin_path(name: str) -> str:
    return os.path.join(os.path.dirname(sys.executable), name)


@pytest.fixture
def celery(elt, tmp_path):
    yield from start_workers(elt, tmp_path, {})


@pytest.fixture
def celery_shards(elt, tmp_path):
    """The workers of a deployment whose ELT is partitioned into three shards."""
    yield from start_workers(elt, tmp_path, {"SUPERHERO_SHARDS": "3"})


def start_workers(elt: EltEnv, tmp_path: Path, extra: dict[str, str]):
    """Two workers, as a user starts them, and the environment a run of theirs needs."""
    url = f"redis://{elt.stack.redis_host}:{elt.stack.redis_port}"
    env = {
        **os.environ,
        **elt.deployment_env(),
        **extra,
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "SUPERHERO_EXECUTOR": "celery",
        "CELERY_BROKER_URL": f"{url}/11",
        "CELERY_RESULT_BACKEND": f"{url}/12",
        # dagster-celery starts `celery` by name: the virtualenv's, as once it is activated.
        "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    Path(env["DAGSTER_HOME"]).mkdir()
    for db in (11, 12):  # no task or result left by an earlier, aborted test
        redis.Redis(host=elt.stack.redis_host, port=elt.stack.redis_port, db=db).flushdb()
    # The deployment's instance exists before its workers start (they open it at once).
    dg.DagsterInstance.from_config(env["DAGSTER_HOME"]).dispose()
    workers = []
    for name in WORKERS:
        log = tmp_path / f"{name}.log"
        argv = [
            bin_path("dagster-celery"), "worker", "start", "-A", "dagster_celery.app",
            "-y", str(ROOT / "deploy/celery/worker.yaml"), "-n", name, "--", "--concurrency", "1",
        ]  # fmt: skip
        with open(log, "w") as out:
            proc = subprocess.Popen(
                argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        workers.append((proc, log))
    deadline = time.monotonic() + 120
    while not all("ready." in log.read_text() for _, log in workers):
        assert time.monotonic() < deadline, [log.read_text()[-2000:] for _, log in workers]
        assert all(proc.poll() is None for proc, _ in workers), [
            log.read_text()[-2000:] for _, log in workers
        ]
        time.sleep(0.5)
    yield env
    for proc, _ in workers:
        os.killpg(proc.pid, signal.SIGTERM)
    for proc, _ in workers:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def steps_on_workers(dagster_home: str, run_id: str) -> dict[str, str]:
    """{step key: the Celery worker that executed it}, from the run's engine events."""
    with dg.DagsterInstance.from_config(dagster_home) as instance:
        placed = {}
        for record in instance.all_logs(run_id):
            event = record.dagster_event
            if event is None or not event.is_engine_event or not event.step_key:
                continue
            worker = event.engine_event_data.metadata.get("Celery worker")
            if worker is not None:
                placed[event.step_key] = worker.value
        return placed


def test_the_elt_jobs_steps_run_on_the_celery_workers_exactly_once(elt: EltEnv, celery):
    expected = elt.produce_matches(20)
    argv = [
        bin_path("dagster"), "job", "execute", "-m", "superhero_assets.definitions",
        "-j", "superhero_elt_job",
    ]  # fmt: skip
    run = subprocess.run(argv, env=celery, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    with dg.DagsterInstance.from_config(celery["DAGSTER_HOME"]) as instance:
        (record,) = instance.get_run_records()
        run_id = record.dagster_run.run_id
        assert record.dagster_run.status == dg.DagsterRunStatus.SUCCESS
    placed = steps_on_workers(celery["DAGSTER_HOME"], run_id)
    assert {"land", "kafka_offsets"} <= set(placed), placed
    assert {worker.split("@")[0] for worker in placed.values()} <= set(WORKERS), placed
    elt.assert_exactly_once(expected["messages"])
    assert elt.table("lib_server_lobby").num_rows == expected["lobby"]
    assert elt.table("lib_server_game").num_rows == expected["game"]
    counts = elt.state()[contract.counts_key(elt.game)].decode()
    assert counts == '{"0": 15, "1": 15, "2": 15, "3": 15}'


def test_three_shard_runs_on_the_celery_workers_load_every_message_once(elt: EltEnv, celery_shards):
    expected = elt.produce_matches(12)
    runs = [
        subprocess.Popen(
            materialize_command(f"{k}-of-3"),
            env=celery_shards,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in (1, 2, 3)
    ]
    logs = [run.communicate(timeout=600)[1] for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], [log[-3000:] for log in logs]
    with dg.DagsterInstance.from_config(celery_shards["DAGSTER_HOME"]) as instance:
        records = instance.get_run_records()
    assert sorted(r.dagster_run.tags["dagster/partition"] for r in records) == [
        "1-of-3",
        "2-of-3",
        "3-of-3",
    ]
    for record in records:
        assert record.dagster_run.status == dg.DagsterRunStatus.SUCCESS
        placed = steps_on_workers(celery_shards["DAGSTER_HOME"], record.dagster_run.run_id)
        assert {"land", "kafka_offsets"} <= set(placed), placed
        assert {worker.split("@")[0] for worker in placed.values()} <= set(WORKERS), placed
    elt.assert_exactly_once(expected["messages"])
    assert elt.table("lib_server_lobby").num_rows == expected["lobby"]
    assert elt.table("lib_server_game").num_rows == expected["game"]
    elt.assert_state_at_watermarks()
