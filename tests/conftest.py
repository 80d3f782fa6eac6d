"""Shared fixtures. Integration tests use the real Kafka and Redis that `superhero stack up` starts.

The test stack runs on its own ports and state folder, so it never touches a developer's
demo stack. `make test` starts it before pytest and stops it after; run alone, pytest
starts it on first use and stops it at the end.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from contextlib import closing

import pytest

from superhero_tools.settings import Settings

TEST_STACK_ENV = {
    "SUPERHERO_STATE_DIR": ".superhero-test",
    "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:19092",
    "KAFKA_CONTROLLER_PORT": "19093",
    "REDIS_PORT": "16379",
    # Local object stores (`stack up --with s3,gcs,azure`); S3 also uses the next 3 ports
    # and each of the 4 plus 10000.
    "SUPERHERO_S3_PORT": "17333",  # SeaweedFS also takes +1..+3 and +10000: clear of 8333+10000
    "SUPERHERO_GCS_PORT": "14443",
    "SUPERHERO_AZURITE_PORT": "20000",
}
for _name, _value in TEST_STACK_ENV.items():
    os.environ.setdefault(_name, _value)


def superhero(*args: str, env: dict[str, str] | None = None, timeout: float = 300):
    """Run the real `superhero` CLI in a subprocess and return the CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-m", "superhero_tools.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def stack() -> Settings:
    """The test stack's settings, with Kafka and Redis up and usable."""
    from superhero_tools.stack import manager

    settings = Settings.from_env()
    already_up = all(st.healthy for st in manager.status(settings))
    if not already_up:
        result = superhero("stack", "up")
        assert result.returncode == 0, f"stack up failed:\n{result.stdout}\n{result.stderr}"
    yield settings
    if not already_up:
        superhero("stack", "down")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def elt(stack, tmp_path):
    """An isolated ELT environment: its own topics, Redis keys and output folder."""
    from tests.elt_env import EltEnv

    env = EltEnv.create(stack, tmp_path / "out")
    yield env
    env.cleanup()


@pytest.fixture(scope="session")
def object_stores(stack):
    """The test stack's S3, GCS and Azure servers, each with a usable test bucket."""
    from superhero_tools.stack import emulators, procs

    es = emulators.EmulatorSettings.from_env()
    missing = [s for s in emulators.EMULATORS if not emulators.answers(s, es)]
    if missing:
        result = superhero("stack", "up", "--with", ",".join(missing))
        assert result.returncode == 0, f"stack up --with failed:\n{result.stdout}\n{result.stderr}"
    yield es
    for service in missing:  # stop only what this session started, by PID file
        record = procs.read_record(stack.state_dir, service)
        if record is not None:
            procs.stop(record)
            procs.forget(stack.state_dir, service)
