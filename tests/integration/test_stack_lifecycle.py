"""A second, throw-away stack on free ports: start twice, stop, leave nothing, refuse bad ports."""

import socket

import psutil
import pytest

from superhero_tools.settings import Settings
from superhero_tools.stack import procs
from tests.support.stack import free_port, superhero

pytestmark = pytest.mark.integration


def stack_env(tmp_path) -> dict[str, str]:
    return {
        "SUPERHERO_STATE_DIR": str(tmp_path / "state"),
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
        "KAFKA_CONTROLLER_PORT": str(free_port()),
        "REDIS_PORT": str(free_port()),
    }


def is_gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_up_twice_then_down_leaves_no_process(tmp_path):
    env = stack_env(tmp_path)
    settings = Settings.from_env(env)
    first = superhero("stack", "up", env=env)
    try:
        assert first.returncode == 0, first.stdout + first.stderr
        assert "redis: started" in first.stdout and "kafka: started" in first.stdout
        pids = {s: procs.read_record(settings.state_dir, s).pid for s in ("redis", "kafka")}

        second = superhero("stack", "up", env=env)
        assert second.returncode == 0, second.stdout + second.stderr
        assert "started" not in second.stdout
        assert {s: procs.read_record(settings.state_dir, s).pid for s in pids} == pids
    finally:
        down = superhero("stack", "down", "--purge", env=env)
    assert down.returncode == 0, down.stderr
    assert all(is_gone(pid) for pid in pids.values())
    assert not procs.port_is_open("127.0.0.1", settings.kafka_port)
    assert not procs.port_is_open("127.0.0.1", settings.redis_port)
    assert not settings.state_dir.exists()
    # Nothing else that carries this stack's state folder on its command line survives.
    marker = str(settings.state_dir)
    leftovers = [
        p.pid
        for p in psutil.process_iter(["cmdline", "status"])
        if p.info["status"] != psutil.STATUS_ZOMBIE
        and any(marker in part for part in p.info["cmdline"] or [])
    ]
    assert leftovers == []


@pytest.mark.parametrize(
    ("service", "variable"), [("kafka", "KAFKA_BOOTSTRAP_SERVERS"), ("redis", "REDIS_PORT")]
)
def test_a_port_taken_by_something_else_is_refused_clearly(tmp_path, service, variable):
    env = stack_env(tmp_path)
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen(16)
    port = squatter.getsockname()[1]
    env[variable] = f"127.0.0.1:{port}" if service == "kafka" else str(port)
    try:
        result = superhero("stack", "up", "--only", service, env=env, timeout=120)
    finally:
        squatter.close()
    assert result.returncode == 2
    assert f"127.0.0.1:{port} is in use by something that is not" in result.stderr
    assert variable in result.stderr
    assert procs.read_record(Settings.from_env(env).state_dir, service) is None


def test_missing_java_is_reported_by_the_cli(tmp_path):
    env = stack_env(tmp_path)
    env.update({"PATH": str(tmp_path), "JAVA_HOME": ""})
    result = superhero("stack", "up", "--only", "kafka", env=env)
    assert result.returncode == 2
    assert "Java was not found on PATH" in result.stderr


def test_a_start_up_timeout_prints_the_log_and_stops_what_it_started(tmp_path):
    env = {**stack_env(tmp_path), "SUPERHERO_STACK_TIMEOUT": "1"}
    result = superhero("stack", "up", "--only", "kafka", env=env)
    assert result.returncode == 2
    assert "kafka was not usable within the start-up timeout" in result.stderr
    assert "Its last log lines" in result.stderr
    settings = Settings.from_env(env)
    assert procs.read_record(settings.state_dir, "kafka") is None
    assert not procs.port_is_open("127.0.0.1", settings.kafka_port)
