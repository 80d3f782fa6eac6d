"""Processes the stack started, remembered by PID file and never looked up by name.

A PID file records the PID and the process's start time. A PID that the OS has since
given to another process has another start time, so `down` never signals a stranger.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil


@dataclass(frozen=True)
class ProcessRecord:
    service: str
    pid: int
    create_time: float
    address: str
    log_file: str

    def is_running(self) -> bool:
        """True while the very process we started is alive (not a reused PID, not a zombie)."""
        try:
            proc = psutil.Process(self.pid)
            return (
                abs(proc.create_time() - self.create_time) < 1.0
                and proc.status() != psutil.STATUS_ZOMBIE
            )
        except psutil.Error:
            return False


def run_dir(state_dir: Path) -> Path:
    return state_dir / "run"


def records(state_dir: Path) -> list[Path]:
    """Every PID record in the state folder."""
    return sorted(run_dir(state_dir).glob("*.pid.json"))


def log_path(state_dir: Path, service: str) -> Path:
    return state_dir / "logs" / f"{service}.log"


def read_record(state_dir: Path, service: str) -> ProcessRecord | None:
    path = run_dir(state_dir) / f"{service}.pid.json"
    try:
        return ProcessRecord(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def forget(state_dir: Path, service: str) -> None:
    (run_dir(state_dir) / f"{service}.pid.json").unlink(missing_ok=True)


def spawn(
    state_dir: Path,
    service: str,
    argv: list[str],
    address: str,
    env: dict[str, str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> ProcessRecord:
    """Start argv detached from our session, logging to the state folder, and record its PID."""
    log = log_path(state_dir, service)
    log.parent.mkdir(parents=True, exist_ok=True)
    run_dir(state_dir).mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=preexec_fn,
            env=env,
            cwd=state_dir,
        )
    record = ProcessRecord(
        service, proc.pid, psutil.Process(proc.pid).create_time(), address, str(log)
    )
    path = run_dir(state_dir) / f"{service}.pid.json"
    path.write_text(json.dumps(record.__dict__))
    return record


def stop(record: ProcessRecord, grace_s: float = 30.0) -> None:
    """SIGTERM the recorded process, then SIGKILL it if it outlives the grace period."""
    stop_together([record], grace_s)


def stop_together(records: list[ProcessRecord], grace_s: float = 30.0) -> None:
    """SIGTERM every recorded process at once, then SIGKILL those that outlive the grace
    period. A cluster's nodes stop together: stopped one by one, the last ones lose their
    quorum and wait out the grace period."""
    running = [r for r in records if r.is_running()]
    for record in running:
        os.kill(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(r.is_running() for r in running):
        time.sleep(0.2)
    for record in running:
        if record.is_running():
            os.kill(record.pid, signal.SIGKILL)
            with contextlib.suppress(psutil.Error):
                psutil.Process(record.pid).wait(timeout=10)


def port_is_open(host: str, port: int, timeout_s: float = 1.0) -> bool:
    """Something accepts TCP connections there (which alone does not make it usable)."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def tail(path: Path | str, lines: int = 40) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(fh.tell() - 64 * 1024, 0))
            text = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return "(no log yet)"
    return "\n".join(text.splitlines()[-lines:])
