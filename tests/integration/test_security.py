"""Secrets never leak (logs, metadata, UI, errors, manifest); services listen on loopback."""

import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from superhero_tools.stack import procs
from tests.support import wire
from tests.support.dagster_ui import graphql
from tests.support.elt_env import EltEnv
from tests.support.secrets import SECRETS, leaks
from tests.support.stack import free_port, superhero

pytestmark = pytest.mark.integration

RESOURCES = """
query { repositoriesOrError { ... on RepositoryConnection { nodes {
  allTopLevelResourceDetails { name configuredValues { key value type } } } } } }
"""


def scan_tree(root: Path, skip: tuple[str, ...] = ()) -> dict[str, list[str]]:
    found = {}
    for path in root.rglob("*"):
        if path.is_file() and path.name not in skip and (hits := leaks(path.read_bytes())):
            found[str(path)] = hits
    return found


@pytest.fixture(scope="module")
def secured(stack, tmp_path_factory):
    root = tmp_path_factory.mktemp("secure")
    redis_env = {
        "SUPERHERO_STATE_DIR": str(root / "state"),
        "REDIS_PORT": str(free_port()),
        "REDIS_PASSWORD": SECRETS["REDIS_PASSWORD"],
    }
    started = superhero("stack", "up", "--only", "redis", env=redis_env)
    assert started.returncode == 0, started.stderr
    elt = EltEnv.create(stack, root / "data")
    elt.produce(elt.game, [wire.attack("g", "a", "b", 1, 2, 1)] * 6 + [b"junk"], 2)
    home = root / "dagster_home"
    home.mkdir()
    env = {
        **os.environ,
        **SECRETS,
        **redis_env,
        "DAGSTER_HOME": str(home),
        "OUTPUT_FS": str(elt.output),
        "SUPERHERO_TOPICS": ",".join(elt.topics),
        "KAFKA_BOOTSTRAP_SERVERS": stack.kafka_bootstrap_servers,
        "REDIS_HOST": "127.0.0.1",
    }
    yield root, elt, env
    superhero("dev", "--stop", env=env)
    superhero("stack", "down", env=redis_env)
    elt.cleanup()


def test_no_secret_reaches_logs_metadata_manifest_or_the_ui(secured):
    root, elt, env = secured
    dagster = os.path.join(os.path.dirname(sys.executable), "dagster")
    run = subprocess.run(
        [dagster, "asset", "materialize", "-m", "superhero_assets.definitions", "--select", "*"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert elt.table("lib_server_game").num_rows == 6  # it really ran, with the password
    assert leaks(run.stdout + run.stderr) == []
    # Event logs (asset metadata, run logs), compute logs, the tables and the manifest. The
    # only file allowed to hold the Redis password is the local Redis server's own config.
    assert scan_tree(root, skip=("redis.conf",)) == {}
    assert oct((root / "state" / "redis" / "redis.conf").stat().st_mode & 0o777) == "0o600"

    port = free_port()
    dev = superhero("dev", "--detach", "--port", str(port), env=env)
    assert dev.returncode == 0, dev.stderr
    data = graphql(f"http://127.0.0.1:{port}", RESOURCES, {})
    assert leaks(str(data)) == []
    values = {
        v["key"]: v
        for r in data["repositoriesOrError"]["nodes"][0]["allTopLevelResourceDetails"]
        for v in r["configuredValues"]
    }
    assert values  # the UI does show the resources' configuration
    # The webserver, like every service the stack starts, listens on loopback only.
    record = procs.read_record(Path(env["SUPERHERO_STATE_DIR"]), "dagster")
    listening = [
        c.laddr.ip
        for p in [psutil.Process(record.pid), *psutil.Process(record.pid).children(recursive=True)]
        for c in p.net_connections("inet")
        if c.status == psutil.CONN_LISTEN
    ]
    assert listening and {ip.removeprefix("::ffff:") for ip in listening} == {"127.0.0.1"}


def test_a_wrong_password_fails_clearly_without_echoing_it(secured):
    _, elt, env = secured
    wrong = {**env, "REDIS_PASSWORD": "wrong-pw-SECRET-0007"}
    result = subprocess.run(
        [sys.executable, "-m", "superhero_tools.cli", "load", "--topics", ",".join(elt.topics)],
        capture_output=True,
        text=True,
        env=wrong,
    )
    assert result.returncode == 2
    assert "REDIS_PASSWORD" in result.stderr
    assert "wrong-pw-SECRET-0007" not in result.stdout + result.stderr


def test_stack_services_listen_on_loopback_only(stack):
    state = stack.state_dir
    for service in ("kafka", "redis"):
        record = procs.read_record(state, service)
        if record is None:
            pytest.skip("the test stack was started outside this test run")
        ips = {
            c.laddr.ip.removeprefix("::ffff:")  # Java reports IPv4-mapped IPv6
            for c in psutil.Process(record.pid).net_connections("inet")
            if c.status == psutil.CONN_LISTEN
        }
        assert ips == {"127.0.0.1"}, (service, ips)


@pytest.mark.parametrize("bad", ["../escape", "/abs", "a/b", "", "x" * 250, ".."])
def test_topic_names_that_could_escape_the_output_root_are_refused(bad):
    from superhero_assets.core.run.pipeline import LoaderConfig

    with pytest.raises(ValueError, match="topic name"):
        LoaderConfig(topics=(bad,))


@pytest.mark.parametrize(
    "bad", ["http://example/x", "s3://bucket/../x", "s3://", "data\n", "ftp://h/p"]
)
def test_output_fs_values_that_could_escape_are_refused(bad):
    from superhero_assets.core.store.output_store import OutputStore

    with pytest.raises(ValueError, match="OUTPUT_FS"):
        OutputStore(bad)
