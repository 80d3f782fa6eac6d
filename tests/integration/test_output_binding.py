"""The Redis offsets belong to one output and one Kafka cluster; anything else is refused."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from superhero_assets.core import contract
from superhero_assets.core.names import absolute_output_fs
from superhero_assets.core.run.binding import Binding
from tests.support.elt_env import EltEnv
from tests.support.stack import superhero

pytestmark = pytest.mark.integration


def error_line(result) -> str:
    """The one line a refused command prints; no traceback."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def binding(elt: EltEnv, topic: str) -> Binding:
    return Binding.from_json(elt.redis().get(contract.binding_key(topic)))


def adopt(elt: EltEnv, output: str) -> subprocess.CompletedProcess:
    env = {
        "OUTPUT_FS": output,
        "SUPERHERO_TOPICS": ",".join(elt.topics),
        "KAFKA_BOOTSTRAP_SERVERS": elt.stack.kafka_bootstrap_servers,
        "REDIS_PORT": str(elt.stack.redis_port),
    }
    return superhero("output", "adopt", env=env)


def test_a_second_output_with_the_same_redis_is_refused_and_nothing_is_lost(elt, tmp_path):
    """OUTPUT_FS=A superhero load, then OUTPUT_FS=B: refused, naming both and the fix."""
    first = elt.produce_matches(4)
    assert elt.cli_load().returncode == 0
    other = tmp_path / "other"
    line = error_line(elt.cli_load(output_fs=str(other)))
    assert str(elt.output) in line and str(other) in line
    assert "superhero output adopt" in line and "reset" in line
    assert not other.exists() or not list(other.glob("buffer_meta/**/*.parquet"))
    second = elt.produce_matches(3, start=4)
    assert elt.cli_load().returncode == 0
    elt.assert_exactly_once(first["messages"] + second["messages"])


def test_copy_then_adopt_moves_the_output_without_loss(elt, tmp_path):
    first = elt.produce_matches(4)
    assert elt.cli_load().returncode == 0
    copy = tmp_path / "copy"
    shutil.copytree(elt.output, copy)
    error_line(elt.cli_load(output_fs=str(copy)))  # a copy is not adopted by itself
    adopted = adopt(elt, str(copy))
    assert adopted.returncode == 0, adopted.stderr
    assert f"now bound to {copy}" in adopted.stdout
    assert binding(elt, elt.game).output_root == str(copy)
    second = elt.produce_matches(3, start=4)
    assert elt.cli_load(output_fs=str(copy)).returncode == 0
    moved = EltEnv(elt.stack, elt.lobby, elt.game, copy)
    moved.assert_exactly_once(first["messages"] + second["messages"])
    error_line(elt.cli_load())  # and the old output is the foreign one now


def test_adopt_refuses_an_output_that_lacks_rows(elt, tmp_path):
    elt.produce_matches(2)
    assert elt.cli_load().returncode == 0
    line = error_line(adopt(elt, str(tmp_path / "empty")))
    assert "does not hold every offset" in line


def test_state_ahead_of_the_outputs_manifest_is_refused(elt, tmp_path):
    """Offsets committed before the binding existed: caught by the manifest instead."""
    elt.produce_matches(2)
    assert elt.cli_load().returncode == 0
    elt.redis().delete(*(contract.binding_key(t) for t in elt.topics))
    line = error_line(elt.cli_load(output_fs=str(tmp_path / "fresh")))
    assert "ahead of what the output" in line and str(tmp_path / "fresh") in line
    assert elt.cli_load().returncode == 0  # the output that holds the rows still loads
    assert binding(elt, elt.lobby).output_root == str(elt.output)  # and is bound again


def test_offsets_of_another_kafka_cluster_are_refused(elt):
    elt.produce_matches(2)
    assert elt.cli_load().returncode == 0
    bound = json.loads(elt.redis().get(contract.binding_key(elt.game)))
    elt.redis().set(contract.binding_key(elt.game), json.dumps({**bound, "kafka_cluster_id": "x"}))
    line = error_line(elt.cli_load())
    assert "Kafka cluster x" in line and "KAFKA_BOOTSTRAP_SERVERS" in line


def test_a_reset_loads_everything_again_into_a_new_output(elt, tmp_path):
    expected = elt.produce_matches(3)
    assert elt.cli_load().returncode == 0
    for topic in elt.topics:
        elt.redis().set(contract.counts_key(topic), '{"": 0}')
        elt.redis().set(contract.last_offset_key(topic), "-1")
    fresh = tmp_path / "fresh"
    assert elt.cli_load(output_fs=str(fresh)).returncode == 0
    EltEnv(elt.stack, elt.lobby, elt.game, fresh).assert_exactly_once(expected["messages"])
    assert binding(elt, elt.game).output_root == str(fresh)


def test_a_relative_output_is_the_same_folder_whatever_the_command(elt, tmp_path):
    """Resolved once, against the folder the user ran the command in."""
    elt.produce_matches(2)
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    env = {
        **os.environ,
        "OUTPUT_FS": "out/../data",
        "KAFKA_BOOTSTRAP_SERVERS": elt.stack.kafka_bootstrap_servers,
        "REDIS_PORT": str(elt.stack.redis_port),
    }
    load = [sys.executable, "-m", "superhero_tools.cli", "load", "--topics", ",".join(elt.topics)]
    ran = subprocess.run(load, cwd=home, env=env, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["output_fs"] == str(home / "data")
    assert list((home / "data").glob("buffer_meta/**/*.parquet"))
    again = subprocess.run(load, cwd=elsewhere, env=env, capture_output=True, text=True)
    line = error_line(again)
    assert str(home / "data") in line and str(elsewhere / "data") in line


def test_absolute_output_fs_resolves_local_paths_once_and_leaves_urls():
    assert absolute_output_fs("./data", "/srv/game") == "/srv/game/data"
    assert absolute_output_fs("", "/srv/game") == "/srv/game/data"
    assert absolute_output_fs("a/../b/", "/srv") == "/srv/b"
    assert absolute_output_fs("file://rel", "/srv") == "/srv/rel"
    assert absolute_output_fs("/abs/x", "/srv") == "/abs/x"
    assert absolute_output_fs("s3://bucket/prefix", "/srv") == "s3://bucket/prefix"


def test_an_output_deleted_and_made_anew_in_place_is_refused(elt):
    elt.produce_matches(2)
    assert elt.cli_load().returncode == 0
    shutil.rmtree(elt.output)
    line = error_line(elt.cli_load())
    assert "deleted and made anew" in line and "reset" in line
