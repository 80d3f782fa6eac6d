"""The test stack's ports and the real `superhero` CLI, shared by conftest and the tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from contextlib import closing

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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
