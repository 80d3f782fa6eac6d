"""`dagster asset materialize` of every asset, as a user runs it, for the CLI tests."""

import os
import subprocess
import sys


def materialize_command(partition: str | None = None) -> list[str]:
    dagster = os.path.join(os.path.dirname(sys.executable), "dagster")
    argv = [dagster, "asset", "materialize", "-m", "superhero_assets.definitions", "--select", "*"]
    return [*argv, "--partition", partition] if partition else argv


def materialize(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        materialize_command(), capture_output=True, text=True, env=env, timeout=600
    )
