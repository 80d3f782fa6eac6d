"""Shared fixtures. Integration tests use the real Kafka and Redis that `superhero stack up` starts.

The test stack runs on its own ports and state folder, so it never touches a developer's
demo stack. `make test` starts it before pytest and stops it after; run alone, pytest
starts it on first use and stops it at the end.
"""

from __future__ import annotations

import pytest

from superhero_tools.settings import Settings
from tests.support.stack import superhero


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


@pytest.fixture
def elt(stack, tmp_path):
    """An isolated ELT environment: its own topics, Redis keys and output folder."""
    from tests.support.elt_env import EltEnv

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
