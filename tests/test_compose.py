"""The compose file for Docker users stays in step with the stack's contract (no engine needed)."""

import os
import re
from pathlib import Path

import yaml

from superhero_assets.core.contract import TOPIC_PARTITIONS
from superhero_assets.core.settings import DEFAULT_KAFKA_VERSION

COMPOSE = Path(__file__).parents[1] / "compose" / "docker-compose.local.yml"


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

import shutil as _shutil  # noqa: E402
import sys as _sys  # noqa: E402

COMPOSE_DIR = COMPOSE.parent
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
THIRD_PARTY_IMAGES = ("apache/kafka", "redis")


def _project_reads() -> set[str]:
    """Every UPPER_CASE name in the project's source: the variables it reads (or passes on)."""
    names: set[str] = set()
    for path in (COMPOSE_DIR.parent / "superhero_assets").rglob("*.py"):
        names |= set(re.findall(r"[\"']([A-Z][A-Z0-9_]{2,})[\"']", path.read_text()))
    return names


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
        "worker",
    } <= set(spec["services"])
    assert (COMPOSE_DIR / "Dockerfile").exists()
    for svc in _project_services(spec).values():
        assert svc["build"]["dockerfile"] == "compose/Dockerfile"


def test_every_variable_the_compose_files_set_is_one_the_project_reads():
    reads = _project_reads()
    for path in [COMPOSE, *(COMPOSE_DIR / f"docker-compose.{c}.yml" for c in CLOUD_FILES)]:
        spec = yaml.safe_load(path.read_text())
        for name, svc in _project_services(spec).items():
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


def test_every_service_command_exists():
    from superhero_assets.cli import build_parser

    parser = build_parser()
    bin_dir = os.path.dirname(_sys.executable)
    spec = yaml.safe_load(COMPOSE.read_text())
    for name, svc in _project_services(spec).items():
        command = svc["command"]
        if command[:2] == ["sh", "-c"]:  # a shell loop: each `superhero ...` call in it
            calls = [c.split() for c in re.findall(r"superhero [^;|]+", command[2])]
        else:
            calls = [command]
        assert calls, name
        for call in calls:
            if call[0] == "superhero":
                parser.parse_args(call[1:])  # the real parser: exits on an unknown command/flag
            else:
                assert _shutil.which(call[0], path=bin_dir), f"{name}: {call[0]} not installed"
