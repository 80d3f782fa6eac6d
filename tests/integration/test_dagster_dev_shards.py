"""`superhero dev` with SUPERHERO_SHARDS=3: the daemon runs the shards in parallel, exactly once.

The lag sensor asks for one run per lagging shard; an asset backfill over the three shards
starts one run each. The project's dagster.yaml (copied into DAGSTER_HOME) lets runs of
different shards go at once, and never two of one shard.
"""

import time

import pytest

from superhero_assets.core import contract
from tests.support.dagster_dev import LOCATION, Dev, launched_while_another_ran
from tests.support.dagster_ui import (
    launch_backfill,
    runs_of_partitions,
    start_sensor,
    stop_sensor,
    wait_until_no_run_in_flight,
)
from tests.support.stack import superhero

pytestmark = pytest.mark.integration
SHARDS = ["1-of-3", "2-of-3", "3-of-3"]


@pytest.fixture(scope="module")
def dev(stack, tmp_path_factory):
    dev = Dev(stack, tmp_path_factory.mktemp("dev-shards"))
    dev.env["SUPERHERO_SHARDS"] = "3"
    dev.produced = {"messages": 0, "lobby": 0, "game": 0}  # by the tests, in order
    started = superhero("dev", "--detach", "--port", str(dev.port), env=dev.env)
    assert started.returncode == 0, started.stdout + started.stderr
    yield dev
    superhero("dev", "--stop", env=dev.env)
    dev.elt.cleanup()


def successful(runs: list[dict]) -> list[dict]:
    return [r for r in runs if r["status"] == "SUCCESS"]


def assert_loaded_once(dev, new: dict[str, int]) -> None:
    """Everything produced so far, these new messages included, is loaded exactly once."""
    expected = dev.produced = {k: v + new[k] for k, v in dev.produced.items()}
    assert dev.wait_rows("buffer_meta", expected["messages"]) == expected["messages"]
    wait_until_no_run_in_flight(dev.url)
    dev.elt.assert_exactly_once(expected["messages"])
    assert dev.rows("lib_server_lobby") == expected["lobby"]
    assert dev.rows("lib_server_game") == expected["game"]
    dev.elt.assert_state_at_watermarks()


def quiet(dev) -> None:
    """The sensor off, and nothing left running: what a user does before a backfill."""
    stop_sensor(dev.url, LOCATION, "kafka_lag_sensor")
    time.sleep(2 * int(dev.env["SENSOR_INTERVAL_S"]) + 1)  # a tick in flight may still submit
    wait_until_no_run_in_flight(dev.url)


def test_the_sensor_starts_one_run_per_lagging_shard_and_they_run_at_once(dev):
    # Every shard lags when the sensor next ticks: it asks for three runs at once.
    quiet(dev)
    new = dev.elt.produce_matches(12)
    start_sensor(dev.url, LOCATION, "kafka_lag_sensor")
    assert_loaded_once(dev, new)
    runs = successful(runs_of_partitions(dev.url))
    assert {r["partition"] for r in runs} == set(SHARDS)
    assert all(r["tags"].get("superhero/trigger") == "kafka_lag_sensor" for r in runs)
    assert launched_while_another_ran(dev.env["DAGSTER_HOME"], [r["runId"] for r in runs]), runs


def test_a_backfill_over_the_shards_runs_them_at_once_and_loads_exactly_once(dev):
    quiet(dev)
    before = {r["runId"] for r in runs_of_partitions(dev.url)}
    more = dev.elt.produce_matches(9, start=12)
    launch_backfill(dev.url, ["raw_messages", *contract.TABLES, "kafka_offsets"], SHARDS)
    assert_loaded_once(dev, more)
    runs = [r for r in runs_of_partitions(dev.url) if r["runId"] not in before]
    assert sorted(r["partition"] for r in successful(runs)) == SHARDS
    assert launched_while_another_ran(dev.env["DAGSTER_HOME"], [r["runId"] for r in runs]), runs
