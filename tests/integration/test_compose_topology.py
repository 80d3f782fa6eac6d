"""The compose's Dagster, run without Docker: its services' own commands and healthchecks on
a throwaway Postgres and the test stack, so the code server launches runs that show in
Dagster and their steps execute on the Celery workers.

Each service runs its compose command with the image's files read from the repository,
on 127.0.0.1 and free ports: the code server, two Celery workers (`--scale worker=2`), the
daemon and the webserver, with compose/dagster.yaml as their instance. The daemon's sensor
sees the lag, launches a run, and the run executes in the code server, sends its steps to
the workers over the stack's Redis, is stored in Postgres and shows in the webserver's
GraphQL; the tables appear in the output. Postgres is Debian's, started here as
its own user (`make test` installs it when missing and run as root).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from glob import glob
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import redis
import yaml

from tests.support.compose import (
    COMPOSE,
    compose_value,
    image_files,
    option,
    spawn,
    stop_session,
    with_port,
)
from tests.support.dagster_ui import graphql
from tests.support.elt_env import EltEnv
from tests.support.stack import free_port

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent

RUNS = """
query Runs {
  runsOrError(limit: 20) {
    ... on Runs { results { runId status tags { key value } } }
  }
}
"""


@dataclass(frozen=True)
class Postgres:
    port: int
    user: str = "dagster"
    database: str = "dagster"


def _postgres_bin() -> Path | None:
    """The folder of the server's programs (initdb may be a link to it from PATH)."""
    found = shutil.which("initdb") or next(iter(glob("/usr/lib/postgresql/*/bin/initdb")), None)
    return Path(found).resolve().parent if found else None


def _as_postgres(argv: list[str]) -> list[str]:
    """Postgres refuses to run as root: as root, run it as the package's `postgres` user."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    pg_bin = _postgres_bin()
    if pg_bin is None:
        assert not os.environ.get("CI"), "make test installs PostgreSQL; it is missing in CI"
        pytest.skip("PostgreSQL's server is not installed (Debian: apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="superhero-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    pg = Postgres(free_port())
    data, log = root / "data", root / "server.log"
    # Trust on loopback: a throwaway server that lives as long as this module.
    subprocess.run(
        _as_postgres([str(pg_bin / "initdb"), "-D", str(data), "-U", pg.user, "--auth=trust"]),
        check=True,
        capture_output=True,
        timeout=120,
    )
    options = f"-p {pg.port} -k {root} -c listen_addresses=127.0.0.1"
    pg_ctl = [str(pg_bin / "pg_ctl"), "-D", str(data)]
    started = subprocess.run(
        _as_postgres([*pg_ctl, "-o", options, "-l", str(log), "-w", "start"]),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode == 0, log.read_text() if log.exists() else started.stderr
    try:
        subprocess.run(
            _as_postgres(
                [str(pg_bin / "createdb"), "-h", "127.0.0.1", "-p", str(pg.port)]
                + ["-U", pg.user, pg.database]
            ),
            check=True,
            capture_output=True,
            timeout=60,
        )
        yield pg
    finally:
        subprocess.run(_as_postgres([*pg_ctl, "-m", "fast", "stop"]), timeout=120)
        shutil.rmtree(root, ignore_errors=True)


class Topology:
    """The three Dagster services of the compose, each as its compose command runs it."""

    def __init__(self, stack, pg: Postgres, root: Path) -> None:
        services = yaml.safe_load(COMPOSE.read_text())["services"]
        self.services = services
        self.elt = EltEnv.create(stack, root / "data")
        self.root = root
        self.home = root / "compose_home"
        self.home.mkdir()
        self.ports = {name: free_port() for name in ("code-server", "dagster-webserver")}
        files = image_files()
        compose_env = services["dagster-daemon"]["environment"]
        image_home = compose_env["DAGSTER_HOME"]
        shutil.copy(files[f"{image_home}/dagster.yaml"], self.home / "dagster.yaml")
        workspace = yaml.safe_load(files[f"{image_home}/workspace.yaml"].read_text())
        (location,) = workspace["load_from"]
        location["grpc_server"].update(host="127.0.0.1", port=self.ports["code-server"])
        (self.home / "workspace.yaml").write_text(yaml.safe_dump(workspace))
        self.paths = {
            **{path: str(file) for path, file in files.items()},
            f"{image_home}/workspace.yaml": str(self.home / "workspace.yaml"),
        }
        # The compose's Redis is the test stack's, in the databases the compose names.
        redis_url = f"redis://{stack.redis_host}:{stack.redis_port}"
        celery = {
            k: compose_value(v).replace("redis://redis:6379", redis_url)
            for k, v in compose_env.items()
            if k == "SUPERHERO_EXECUTOR" or k.startswith("CELERY_")
        }
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_")},
            **{k: compose_value(v) for k, v in compose_env.items() if k.startswith("DAGSTER_")},
            "DAGSTER_HOME": str(self.home),
            "DAGSTER_POSTGRES_HOST": "127.0.0.1",
            "DAGSTER_POSTGRES_PORT": str(pg.port),
            "SUPERHERO_STATE_DIR": str(root / "state"),
            **self.elt.deployment_env(),
            **celery,
            # dagster-celery starts `celery` by name: the virtualenv's, as in the image.
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        for url in (celery["CELERY_BROKER_URL"], celery["CELERY_RESULT_BACKEND"]):
            redis.Redis.from_url(url).flushdb()  # no task or result of an earlier test
        self.procs: dict[str, subprocess.Popen] = {}

    def argv(self, command: list[str], service: str) -> list[str]:
        port = self.ports.get(service, 0)
        argv = with_port(command, port) if port else list(command)
        argv = [self.paths.get(a, a) for a in argv]
        return [str(BIN / argv[0]), *argv[1:]]

    def start(self, service: str, replica: int = 0) -> None:
        argv = self.argv(self.services[service]["command"], service)
        name = service
        if replica:  # `--scale`: each container has a hostname of its own, here a node name
            name = f"{service}-{replica}"
            argv = [*argv, "-n", f"{name}@%h"]
        self.procs[name] = spawn(argv, self.root, self.env, name)

    def healthcheck(self, service: str) -> subprocess.CompletedProcess:
        """The compose healthcheck's command, run here on the service's port."""
        check = self.services[service]["healthcheck"]["test"][1:]
        if check[0] == "python":  # the webserver's one-liner names its port in its code
            port = option(self.services[service]["command"], "-p")
            check = [*check[:-1], check[-1].replace(f":{port}/", f":{self.ports[service]}/")]
        return subprocess.run(
            self.argv(check, service), env=self.env, capture_output=True, text=True, timeout=120
        )

    def wait_healthy(self, service: str, timeout_s: float = 240) -> None:
        deadline = time.monotonic() + timeout_s
        result = None
        while time.monotonic() < deadline and self.procs[service].poll() is None:
            result = self.healthcheck(service)
            if result.returncode == 0:
                return
            time.sleep(2)
        raise AssertionError(
            f"{service} is not healthy: {result and result.stdout + result.stderr}\n"
            + (self.root / f"{service}.log").read_text()[-3000:]
        )

    def instance(self, monkeypatch: pytest.MonkeyPatch):
        """The compose instance, opened here as the services open it (from the environment)."""
        from dagster import DagsterInstance

        for name, value in self.env.items():
            if name.startswith("DAGSTER_"):
                monkeypatch.setenv(name, value)
        return DagsterInstance.from_config(str(self.home))

    def rows(self, table: str) -> int:
        files = self.elt.output.glob(f"{table}/**/*.parquet")
        return sum(pq.read_metadata(f).num_rows for f in files)

    def stop(self) -> None:
        for process in reversed(self.procs.values()):
            stop_session(process)


@pytest.fixture(scope="module")
def topology(stack, postgres, tmp_path_factory) -> Iterator[Topology]:
    topo = Topology(stack, postgres, tmp_path_factory.mktemp("compose"))
    try:
        # In the compose's order: the webserver and the daemon wait for a healthy code server.
        topo.start("code-server")
        for replica in (1, 2):
            topo.start("worker", replica)
        topo.wait_healthy("code-server")
        topo.start("dagster-daemon")
        topo.start("dagster-webserver")
        yield topo
    finally:
        topo.stop()
        topo.elt.cleanup()


def test_every_dagster_service_passes_its_compose_healthcheck(topology):
    for service in ("code-server", "dagster-webserver", "dagster-daemon"):
        topology.wait_healthy(service)


def test_the_daemons_sensor_launches_a_run_whose_steps_execute_on_the_workers(
    topology, monkeypatch
):
    expected = topology.elt.produce_matches(6)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and topology.rows("buffer_meta") < expected["messages"]:
        time.sleep(1)
    assert topology.rows("buffer_meta") == expected["messages"]
    assert topology.rows("lib_server_lobby") == expected["lobby"]
    # The webserver shows the run from Postgres: launched by the sensor, sent to the
    # code server (the gRPC address DefaultRunLauncher used), and successful.
    url = f"http://127.0.0.1:{topology.ports['dagster-webserver']}"
    code_server = {"host": "127.0.0.1", "port": topology.ports["code-server"]}
    deadline, runs = time.monotonic() + 120, []
    while time.monotonic() < deadline:
        results = graphql(url, RUNS, {})["runsOrError"]["results"]
        runs = [{t["key"]: t["value"] for t in r["tags"]} | r for r in results]
        if any(r["status"] == "SUCCESS" for r in runs):
            break
        time.sleep(1)
    succeeded = [r for r in runs if r["status"] == "SUCCESS"]
    assert succeeded, runs
    run = succeeded[0]
    assert run.get("dagster/sensor_name") == "kafka_lag_sensor", runs
    # The launcher's record of where it sent the run, a tag the UI hides: read from Postgres.
    with topology.instance(monkeypatch) as instance:
        tags = instance.get_run_by_id(run["runId"]).tags
        placed = {
            record.dagster_event.step_key: worker.value
            for record in instance.all_logs(run["runId"])
            if record.dagster_event is not None
            and record.dagster_event.is_engine_event
            and (worker := record.dagster_event.engine_event_data.metadata.get("Celery worker"))
        }
    assert json.loads(tags[".dagster/grpc_info"]) == code_server
    # Its steps ran on the compose's Celery workers.
    assert {"land", "kafka_offsets"} <= set(placed), placed
    assert {w.split("@")[0] for w in placed.values()} <= {"worker-1", "worker-2"}, placed
    # Its logs are where the compose mounts the volume the webserver reads them from.
    assert list((topology.home / "storage").rglob(f"*{run['runId']}*")), run["runId"]
