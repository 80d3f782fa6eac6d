"""`dagster asset materialize` of every asset, as a user runs it, for the CLI tests."""

import os
import subprocess
import sys


def materialize(env: dict[str, str]) -> subprocess.CompletedProcess:
    dagster = os.path.join(os.path.dirname(sys.executable), "dagster")
    return subprocess.run(
        [dagster, "asset", "materialize", "-m", "superhero_assets.definitions", "--select", "*"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
