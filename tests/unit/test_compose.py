"""The compose file for Docker users stays in step with the stack's contract (no engine needed)."""

import importlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from superhero_assets.core.contract import TOPIC_PARTITIONS
from superhero_tools.settings import DEFAULT_KAFKA_VERSION
from tests.support.compose import (
    CELERY_WORKER,
    COMPOSE,
    COMPOSE_DIR,
    DAGSTER_SERVICES,
    INSTANCE_YAML,
    ROOT,
    compose_value,
    copies,
    image_files,
    instance_env_names,
    option,
    spawn,
    stage,
    stages,
    stop_session,
    with_port,
)


def test_local_compose_has_kafka_redis_and_the_topics():
    spec = yaml.safe_load(COMPOSE.read_text())
    services = spec["services"]
    assert {"kafka", "redis", "kafka-setup"} <= set(services)
    assert services["kafka"]["image"] == f"apache/kafka:{DEFAULT_KAFKA_VERSION}"
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    # Published on loopback only.
    for name in ("kafka", "redis"):
        assert all(port.startswith("127.0.0.1:") for port in services[name]["ports"])
    script = services["kafka-setup"]["command"][0]
    assert dict(re.findall(r"([\w.]+):(\d)", script.split("\n")[1])) == {
        name: str(n) for name, n in TOPIC_PARTITIONS.items()
    }


# --- the whole platform and the cloud overlays ----------------------------------------------


CLOUD_FILES = {
    "aws": {"OUTPUT_FS", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"},
    "gcp": {"OUTPUT_FS", "GCP_PROJECT_ID", "GOOGLE_APPLICATION_CREDENTIALS"},
    "azure": {
        "OUTPUT_FS",
        "AZURE_ACCOUNT_NAME",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
    },
}
THIRD_PARTY_IMAGES = ("apache/kafka", "redis", "postgres")


def _project_reads() -> set[str]:
    """Every UPPER_CASE name in the project's source (the variables it reads or passes on),
    and those the compose's Dagster instance reads (`env:` in compose/dagster.yaml)."""
    names: set[str] = set()
    for package in ("superhero_assets", "superhero_tools"):
        for path in (COMPOSE_DIR.parent / package).rglob("*.py"):
            names |= set(re.findall(r"[\"']([A-Z][A-Z0-9_]{2,})[\"']", path.read_text()))
    return names | instance_env_names()


def _project_services(spec: dict) -> dict:
    return {
        name: svc
        for name, svc in spec["services"].items()
        if not str(svc.get("image", "")).startswith(THIRD_PARTY_IMAGES)
    }


def test_local_compose_runs_the_whole_platform():
    spec = yaml.safe_load(COMPOSE.read_text())
    assert {
        "kafka",
        "redis",
        "kafka-setup",
        "server",
        "player",
        "dagster-webserver",
        "dagster-daemon",
        "code-server",
        "worker",
        "postgres",
    } <= set(spec["services"])
    assert (COMPOSE_DIR / "Dockerfile").exists()
    for svc in _project_services(spec).values():
        assert svc["build"]["dockerfile"] == "compose/Dockerfile"


def test_every_variable_the_compose_files_set_is_one_the_project_reads():
    reads = _project_reads()
    overlays = [
        *(f"docker-compose.{c}.yml" for c in CLOUD_FILES),
        "docker-compose.kafka-cluster.yml",
    ]
    # An overlay names a service without its image: the project's are the local file's.
    project = set(_project_services(yaml.safe_load(COMPOSE.read_text())))
    for path in [COMPOSE, *(COMPOSE_DIR / name for name in overlays)]:
        spec = yaml.safe_load(path.read_text())
        for name, svc in spec["services"].items():
            if name not in project:
                continue
            unknown = set(svc.get("environment") or {}) - reads
            assert not unknown, f"{path.name}:{name} sets {unknown}, which nothing reads"


def test_cloud_files_differ_from_local_only_in_output_fs_and_credentials():
    local = yaml.safe_load(COMPOSE.read_text())
    for cloud, expected in CLOUD_FILES.items():
        spec = yaml.safe_load((COMPOSE_DIR / f"docker-compose.{cloud}.yml").read_text())
        assert set(spec["services"]) <= set(local["services"])
        for svc in spec["services"].values():
            assert set(svc) <= {"environment", "secrets"}
            assert set(svc["environment"]) == expected
            assert not any(
                v.startswith(("AKIA", "-----BEGIN")) for v in svc["environment"].values()
            )


# --- the image: compose/Dockerfile, read as Docker reads it ------------------------------


def _owned_dirs() -> set[str]:
    """The folders the runtime stage gives its user: `chown -R <user>` arguments."""
    runtime = stages()[-1]
    env = runtime.env()
    owned: set[str] = set()
    for run in runtime.args("RUN"):
        for match in re.finditer(r"chown -R \w+ ([^&]+)", run):
            words = match.group(1).replace('"', "").split()
            owned |= {re.sub(r"\$\{?(\w+)\}?", lambda m: env[m.group(1)], w) for w in words}
    return owned


def test_the_image_builds_the_native_wheel_in_a_build_stage_with_the_tested_script():
    image_stages = stages()
    assert [s.name for s in image_stages][-2:] == ["build", "runtime"]
    build, runtime = image_stages[-2], image_stages[-1]
    # The same base image: the wheel is built against the glibc it runs on.
    assert build.base == runtime.base
    (run,) = [r for r in build.args("RUN") if "build-native.sh" in r]
    # The very script tests/unit/test_native_build.py runs, on the repository's own native/.
    assert re.fullmatch(r"PYTHON=python3 sh compose/build-native.sh /wheels", run)
    sources = {src for *srcs, _ in copies(build) for src in srcs}
    assert {"native", "requirements.lock", "compose/build-native.sh"} <= sources


def test_the_runtime_stage_installs_the_wheel_from_the_build_stage():
    runtime = stage("runtime")
    (wheel_copy,) = [c for c in copies(runtime) if c[0] == "--from=build"]
    assert wheel_copy[1] == "/wheels"
    wheel_dir = wheel_copy[2]
    runs = runtime.args("RUN")
    # The install tests/unit/test_native_build.py repeats (there into a --target folder).
    assert any(f"pip install --no-deps {wheel_dir}/*.whl" in r for r in runs)
    # The hash-locked requirements first, and a build that fails if the wheel does not import.
    assert "pip install --require-hashes --no-deps -r requirements.lock" in runs
    assert any("native.available()" in r for r in runs)


def test_the_image_ships_the_projects_dagster_yaml_and_the_compose_instance():
    runtime = stage("runtime")
    files = image_files()
    home = runtime.env()["DAGSTER_HOME"]
    assert files[f"{home}/dagster.yaml"] == ROOT / "dagster.yaml"
    assert files["/opt/dagster/compose/dagster.yaml"] == INSTANCE_YAML
    assert files["/opt/dagster/compose/workspace.yaml"] == COMPOSE_DIR / "workspace.yaml"
    assert all(path.exists() for path in files.values())


def test_the_image_runs_as_a_non_root_user_that_owns_what_it_writes():
    runtime = stage("runtime")
    user = runtime.args("USER")[-1]
    assert user not in ("root", "0")
    assert any(re.search(rf"useradd .*--uid 10001 {user}\b", r) for r in runtime.args("RUN"))
    home = runtime.env()["DAGSTER_HOME"]
    assert {home, "/opt/dagster/compose", "/data"} <= _owned_dirs()


def test_the_build_context_holds_only_what_the_dockerfile_copies():
    rules = [
        line
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert rules[0] == "*"  # everything else stays out: state, venvs, cloud secrets
    allowed = {rule[1:] for rule in rules if rule.startswith("!")}
    copied = {
        source
        for stage in stages()
        for *sources, _ in copies(stage)
        if not sources[0].startswith("--from=")
        for source in sources
    }
    assert allowed == copied
    assert "native/target" in rules  # Cargo's build cache, hundreds of MB


# --- the compose's Dagster: Postgres, the code server, Celery workers, healthchecks -------


def _workspace() -> dict:
    files = image_files()
    spec = yaml.safe_load(COMPOSE.read_text())
    paths = {option(spec["services"][s]["command"], "-w") for s in DAGSTER_SERVICES[:2]}
    (path,) = paths  # the webserver and the daemon load the same workspace
    return yaml.safe_load(files[path].read_text())


def test_the_dagster_services_share_the_compose_instance_of_the_image():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    files = image_files()
    for name in (*DAGSTER_SERVICES, CELERY_WORKER):
        env = services[name]["environment"]
        assert files[f"{env['DAGSTER_HOME']}/dagster.yaml"] == INSTANCE_YAML, name
        assert instance_env_names() <= set(env), name


def test_the_compose_instance_is_the_projects_on_postgres(monkeypatch, tmp_path):
    from dagster._config import process_config
    from dagster._core.errors import DagsterInvalidConfigError
    from dagster._core.instance.config import dagster_instance_config
    from dagster_postgres import DagsterPostgresStorage
    from dagster_postgres.utils import pg_url_from_config
    from sqlalchemy.engine import make_url

    project = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    compose = yaml.safe_load(INSTANCE_YAML.read_text())
    # The one-run pool, run monitoring and telemetry of the project's instance, unchanged.
    assert {k: v for k, v in compose.items() if k not in ("storage", "run_launcher")} == project
    assert list(compose["storage"]) == ["postgres"]
    # Dagster's own schema checks, with the values the compose gives the services: the
    # instance's, then the storage's as DagsterPostgresStorage reads it at start.
    env = yaml.safe_load(COMPOSE.read_text())["services"]["dagster-daemon"]["environment"]
    for name in instance_env_names():
        monkeypatch.setenv(name, compose_value(env[name]))
    config, _ = dagster_instance_config(str(COMPOSE_DIR))
    assert config["run_monitoring"]["enabled"] is True
    assert config["concurrency"]["pools"]["default_limit"] == 1
    # The URL's driver is the psycopg2 dagster-postgres installs (SQLAlchemy 2.1 defaults
    # to psycopg 3, which is not): its dialect loads it.
    storage = process_config(DagsterPostgresStorage.config_type(), compose["storage"]["postgres"])
    assert storage.success, storage.errors
    url = make_url(pg_url_from_config(storage.value))
    assert (url.host, url.port, url.database) == ("postgres", 5432, "dagster")
    assert url.get_dialect().import_dbapi().__name__ == "psycopg2"
    # A typo is an error, not a setting silently ignored.
    (tmp_path / "dagster.yaml").write_text(
        INSTANCE_YAML.read_text().replace("run_monitoring:", "run_monitorng:")
    )
    with pytest.raises(DagsterInvalidConfigError):
        dagster_instance_config(str(tmp_path))


def test_postgres_has_a_healthcheck_a_named_volume_and_the_instances_credentials():
    spec = yaml.safe_load(COMPOSE.read_text())
    pg = spec["services"]["postgres"]
    dagster_env = spec["services"]["dagster-daemon"]["environment"]
    assert pg["image"].startswith("postgres:")
    assert "pg_isready" in pg["healthcheck"]["test"][1]
    assert "ports" not in pg  # only the compose's network reaches it
    (volume,) = pg["volumes"]
    assert volume.split(":")[0] in spec["volumes"]
    for name in ("USER", "PASSWORD", "DB"):
        assert pg["environment"][f"POSTGRES_{name}"] == dagster_env[f"DAGSTER_POSTGRES_{name}"]
    assert dagster_env["DAGSTER_POSTGRES_HOST"] == "postgres"
    for name in DAGSTER_SERVICES:
        assert spec["services"][name]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_project_services_mount_only_named_volumes_their_user_owns():
    # A bind mount such as ../data is owned by the host's user, not by uid 10001.
    spec = yaml.safe_load(COMPOSE.read_text())
    owned = _owned_dirs()
    for name, svc in _project_services(spec).items():
        for mount in svc.get("volumes", []):
            source, target = mount.split(":")[:2]
            assert source in spec["volumes"], f"{name} mounts {source}, not a named volume"
            assert any(target == d or target.startswith(f"{d}/") for d in owned), (name, target)
    assert "data:/data" in spec["services"]["worker"]["volumes"]
    assert "data:/data" in spec["services"]["code-server"]["volumes"]


def test_the_code_server_is_the_one_the_workspace_names():
    spec = yaml.safe_load(COMPOSE.read_text())
    worker = spec["services"]["code-server"]["command"]
    assert worker[:3] == ["dagster", "code-server", "start"]
    assert option(worker, "-m") == "superhero_assets.definitions"
    (location,) = _workspace()["load_from"]
    server = location["grpc_server"]
    assert server["host"] == "code-server"
    assert str(server["port"]) == option(worker, "-p")
    assert server["location_name"] == option(worker, "--location-name")
    # The runs the daemon launches execute there: DefaultRunLauncher runs them in the server.
    assert yaml.safe_load(INSTANCE_YAML.read_text())["run_launcher"]["class"] == (
        "DefaultRunLauncher"
    )
    for name in DAGSTER_SERVICES[:2]:
        assert spec["services"][name]["depends_on"]["code-server"]["condition"] == "service_healthy"
    # It forks a process per run: an init as PID 1 reaps any it orphans.
    assert spec["services"]["code-server"]["init"] is True


def test_the_worker_is_a_celery_worker_that_scales_and_runs_every_steps():
    """`--scale worker=N`, as in the original, starts N of the engine's workers: nothing in
    the service pins it to one container (no name, no host port), and every run's steps go
    to them (SUPERHERO_EXECUTOR=celery over the stack's Redis)."""
    spec = yaml.safe_load(COMPOSE.read_text())
    worker = spec["services"][CELERY_WORKER]
    assert worker["command"][:3] == ["dagster-celery", "worker", "start"]
    assert option(worker["command"], "-A") == "dagster_celery.app"
    assert image_files()[option(worker["command"], "-y")] == ROOT / "deploy/celery/worker.yaml"
    assert "container_name" not in worker and "ports" not in worker
    for name in (*DAGSTER_SERVICES, CELERY_WORKER):
        env = spec["services"][name]["environment"]
        assert env["SUPERHERO_EXECUTOR"] == "celery", name
        assert env["CELERY_BROKER_URL"].startswith("redis://redis:6379/"), name
        assert env["CELERY_RESULT_BACKEND"].startswith("redis://redis:6379/"), name
    assert worker["depends_on"]["redis"]["condition"] == "service_healthy"


def test_the_app_services_have_healthchecks_on_their_own_ports():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    for name in DAGSTER_SERVICES:
        assert services[name]["healthcheck"]["test"][0] == "CMD", name
    web = services["dagster-webserver"]
    port = option(web["command"], "-p")
    assert f"http://127.0.0.1:{port}/server_info" in web["healthcheck"]["test"][-1]
    worker = services["code-server"]
    assert worker["healthcheck"]["test"][1:] == [
        "dagster",
        "api",
        "grpc-health-check",
        "-p",
        option(worker["command"], "-p"),
    ]
    assert services["dagster-daemon"]["healthcheck"]["test"][1:] == [
        "dagster-daemon",
        "liveness-check",
    ]


def _parse_with_click(argv: list[str]) -> None:
    """argv parsed by the installed command's own click parser (image paths read as the
    repository files they are copied from): an unknown command or option fails."""
    from importlib.metadata import entry_points

    import click

    files = {path: str(file) for path, file in image_files().items()}
    (script,) = entry_points(group="console_scripts", name=argv[0])
    # dagster's entry point wraps its click group `cli`; dagster-celery's is the group.
    module = importlib.import_module(script.module)
    command = getattr(module, "cli", None) or getattr(module, script.attr)
    args = [files.get(a, a) for a in argv[1:]]
    while isinstance(command, click.Group):
        sub = command.get_command(click.Context(command), args[0])
        assert sub is not None, f"{argv}: no command {args[0]!r}"
        command, args = sub, args[1:]
    command.make_context(argv[0], args)


def test_every_service_command_exists():
    from superhero_tools.cli import build_parser

    parser = build_parser()
    bin_dir = os.path.dirname(sys.executable)
    spec = yaml.safe_load(COMPOSE.read_text())
    for name, svc in _project_services(spec).items():
        calls = [svc["command"]]
        check = svc.get("healthcheck", {}).get("test", [])
        if check[:1] == ["CMD"]:
            calls.append(check[1:])
        for call in calls:
            assert shutil.which(call[0], path=bin_dir), f"{name}: {call[0]} not installed"
            if call[0] == "superhero":
                parser.parse_args(call[1:])  # the real parser: exits on an unknown command/flag
            elif call[0].startswith("dagster"):
                _parse_with_click(call)
            elif call[:2] == ["python", "-c"]:
                compile(call[2], f"{name} healthcheck", "exec")


def test_the_code_server_command_serves_the_code_and_passes_its_healthcheck(tmp_path):
    from tests.support.stack import free_port

    services = yaml.safe_load(COMPOSE.read_text())["services"]
    port = free_port()
    bin_dir = Path(sys.executable).parent
    server_cmd = with_port(services["code-server"]["command"], port)
    check_cmd = with_port(services["code-server"]["healthcheck"]["test"][1:], port)
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    server = spawn([str(bin_dir / server_cmd[0]), *server_cmd[1:]], tmp_path, env, "server")
    try:
        deadline, healthy = time.monotonic() + 180, None
        while time.monotonic() < deadline and server.poll() is None:
            healthy = subprocess.run(
                [str(bin_dir / check_cmd[0]), *check_cmd[1:]], capture_output=True, text=True
            )
            if healthy.returncode == 0:
                break
            time.sleep(1)
        assert healthy is not None and healthy.returncode == 0, (
            tmp_path / "server.log"
        ).read_text()[-3000:]
        # The compose workspace, pointed at this server, gives Dagster the job.
        (location,) = _workspace()["load_from"]
        location["grpc_server"].update(host="127.0.0.1", port=port)
        workspace = tmp_path / "workspace.yaml"
        workspace.write_text(yaml.safe_dump({"load_from": [location]}))
        jobs = subprocess.run(
            [str(bin_dir / "dagster"), "job", "list", "-w", str(workspace)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert "Job: superhero_elt_job" in jobs.stdout, jobs.stderr[-3000:]
    finally:
        stop_session(server)


# --- three brokers: docker-compose.kafka-cluster.yml ----------------------------------------


def test_the_cluster_file_runs_three_nodes_as_stack_up_brokers_3_does(tmp_path):
    """Every node a broker and controller in one quorum of three, with the replication the
    stack's own cluster gets (kafka.server_properties for three nodes)."""
    from superhero_tools.settings import Settings
    from superhero_tools.stack import kafka

    local = yaml.safe_load(COMPOSE.read_text())
    cluster = yaml.safe_load((COMPOSE_DIR / "docker-compose.kafka-cluster.yml").read_text())
    services = cluster["services"]
    nodes = {"kafka": local["services"]["kafka"]["environment"]}
    nodes["kafka"] = {**nodes["kafka"], **services["kafka"]["environment"]}
    nodes |= {n: services[n]["environment"] for n in ("kafka-2", "kafka-3")}
    assert sorted(int(env["KAFKA_NODE_ID"]) for env in nodes.values()) == [1, 2, 3]
    voters = {env["KAFKA_CONTROLLER_QUORUM_VOTERS"] for env in nodes.values()}
    assert voters == {"1@kafka:9093,2@kafka-2:9093,3@kafka-3:9093"}
    assert len({env["CLUSTER_ID"] for env in nodes.values()}) == 1
    stack = dict(
        line.split("=", 1)
        for line in kafka.server_properties(
            Settings.from_env({"SUPERHERO_KAFKA_BROKERS": "3"}), 1, tmp_path
        ).splitlines()
        if "=" in line and not line.startswith("#")
    )
    replication = [
        "default.replication.factor",
        "min.insync.replicas",
        "unclean.leader.election.enable",
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "share.coordinator.state.topic.replication.factor",
        "share.coordinator.state.topic.min.isr",
    ]
    for env in nodes.values():
        as_properties = {
            k.removeprefix("KAFKA_").lower().replace("_", "."): str(v) for k, v in env.items()
        }
        assert {n: as_properties.get(n) for n in replication} == {n: stack[n] for n in replication}
    script = services["kafka-setup"]["command"][0]
    assert "--replication-factor 3" in script and "min.insync.replicas=2" in script
    assert set(services["kafka-setup"]["depends_on"]) == set(nodes)


def test_the_cluster_file_gives_every_project_service_all_three_nodes():
    local = yaml.safe_load(COMPOSE.read_text())
    cluster = yaml.safe_load((COMPOSE_DIR / "docker-compose.kafka-cluster.yml").read_text())
    readers = [
        name
        for name, svc in _project_services(local).items()
        if "KAFKA_BOOTSTRAP_SERVERS" in (svc.get("environment") or {})
    ]
    assert readers
    for name in readers:
        env = cluster["services"][name]["environment"]
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:19092,kafka-2:19092,kafka-3:19092"
