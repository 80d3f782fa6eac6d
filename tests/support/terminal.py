"""Run the real `superhero` CLI with stderr on a pseudo-terminal, as a person at a terminal has it.

stdout stays a pipe, so a test reads the command's result apart from its progress lines.
"""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import sys
import termios
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class TerminalRun:
    returncode: int
    stdout: str
    terminal: str  # every byte the command wrote to its terminal stderr, "\r" and all

    def redraws(self, label: str) -> list[str]:
        """Each state the line `label: ...` was drawn in, in order (one per "\\r")."""
        return [
            part.split("\x1b[K")[0]
            for part in self.terminal.replace("\n", "\r").split("\r")
            if part.startswith(f"{label}: ")
        ]


def superhero_on_a_terminal(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300, columns: int = 200
) -> TerminalRun:
    primary, secondary = os.openpty()
    # rows, columns, and two pixel sizes nobody reads
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "superhero_tools.cli", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=secondary,
        env={**os.environ, **(env or {})},
    )
    os.close(secondary)  # the child holds its own copy; ours would keep the terminal open
    # stdout is read beside the terminal, so a full pipe never stalls the command.
    printed: list[bytes] = []
    reader = threading.Thread(target=lambda: printed.append(proc.stdout.read()), daemon=True)
    reader.start()
    received = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], 0.5)
            if primary in ready:
                try:
                    chunk = os.read(primary, 65536)
                except OSError:  # EIO: every writer of the terminal has closed it
                    break
                if not chunk:
                    break
                received += chunk
            elif proc.poll() is not None:
                break
        else:
            proc.kill()
            raise TimeoutError(f"superhero {' '.join(args)} ran past {timeout}s")
        returncode = proc.wait(timeout=30)
        reader.join(timeout=30)
    finally:
        os.close(primary)
    return TerminalRun(returncode, b"".join(printed).decode(), received.decode(errors="replace"))
