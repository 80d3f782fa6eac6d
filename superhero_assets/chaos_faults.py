"""The faults `superhero chaos` injects, each against a real loader run on the chaos stack.

Every fault starts `superhero load` as a subprocess, hurts it, the broker, Redis or the
output at a moment drawn from the seeded generator, and returns what happened. Nothing here
cleans up after the loader: the next run must recover by itself.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import redis

from superhero_assets.core import contract, faults
from superhero_assets.core.settings import Settings
from superhero_assets.stack import manager, procs

KINDS = ("kill_run", "kill_kafka", "restart_redis", "concurrent_runs", "output_failure")


@dataclass
class Rig:
    """The chaos stack, its topics and output, and how loader runs are started there."""

    settings: Settings
    topics: tuple[str, ...]
    output: Path
    log: IO[str]
    rng: random.Random
    lock_ttl_s: int = 2
    chunk_messages: int = 500
    tmpfs: bool = False
    run_seconds: float = 3.0  # a clean run, start to exit: aims the wall-clock kills
    work_seconds: float = 1.0  # a clean run, plan to exit: aims the other faults
    runs: int = field(default=0)
    first_variant: int = 0  # where the rotation of kill points starts (seeded)

    def start_load(self, env: dict[str, str] | None = None) -> subprocess.Popen:
        self.runs += 1
        self.log.write(f"--- run {self.runs} {env or ''}\n")
        self.log.flush()
        return subprocess.Popen(
            [sys.executable, "-m", "superhero_assets.cli", "load", "--topics"]
            + [",".join(self.topics), "--lock-ttl", str(self.lock_ttl_s)]
            + ["--chunk-messages", str(self.chunk_messages), "--output-fs", str(self.output)],
            stdout=self.log,
            stderr=self.log,
            env={**_loader_env(self.settings), **(env or {})},
        )

    def finish(self, proc: subprocess.Popen, timeout_s: float = 180.0) -> int:
        try:
            return proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()

    def clean_run(self) -> int:
        """A run without faults; a successful one updates the timings the faults aim with."""
        started = time.monotonic()
        proc = self.start_load()
        planned = self.wait_planned(proc)
        rc = self.finish(proc)
        if rc == 0 and planned is not None:
            self.run_seconds = 0.7 * self.run_seconds + 0.3 * (time.monotonic() - started)
            self.work_seconds = 0.7 * self.work_seconds + 0.3 * (time.monotonic() - planned)
        return rc

    def wait_planned(self, proc: subprocess.Popen, timeout_s: float = 20.0) -> float | None:
        """When the run recorded its plan (it holds its locks, reading and writing are next)."""
        pending = self.output / "_manifest" / "pending.json"
        before, deadline = _identity(pending), time.monotonic() + timeout_s
        while proc.poll() is None and time.monotonic() < deadline:
            if _identity(pending) not in (before, None):
                return time.monotonic()
            time.sleep(0.005)
        return None

    def start_working(self) -> tuple[subprocess.Popen, float]:
        """Start a run; return once it has planned, plus a seeded moment into its work."""
        proc = self.start_load()
        self.wait_planned(proc)
        delay = self.rng.uniform(0.0, 1.0) * self.work_seconds
        time.sleep(delay)
        return proc, delay

    def redis(self) -> redis.Redis:
        return redis.Redis(host=self.settings.redis_host, port=self.settings.redis_port)

    def wait_unlocked(self) -> None:
        """Until no lock on the chaos topics is held (a killed run's locks expire)."""
        deadline = time.monotonic() + self.lock_ttl_s + 10
        keys = [contract.lock_key(t) for t in self.topics]
        while time.monotonic() < deadline:
            try:
                if not self.redis().exists(*keys):
                    return
            except redis.RedisError:
                pass
            time.sleep(0.2)

    def restart(self, service: str) -> None:
        """SIGKILL the stack's service by its PID record, then start it again."""
        record = procs.read_record(self.settings.state_dir, service)
        if record is not None and record.is_running():
            os.kill(record.pid, signal.SIGKILL)
            while record.is_running():
                time.sleep(0.05)
        manager.up(self.settings, (service,), echo=lambda line: self.log.write(line + "\n"))


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns


def _loader_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SUPERHERO_KILL_AT"}
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=settings.kafka_bootstrap_servers,
        REDIS_HOST=settings.redis_host,
        REDIS_PORT=str(settings.redis_port),
        REDIS_DB="0",
    )
    return env


def kill_run(rig: Rig, n: int) -> dict:
    """SIGKILL the run: at a named point (reading/writing, manifest, Redis) or from outside."""
    variants = (*faults.POINTS, "wall_clock")
    variant = variants[(n + rig.first_variant) % len(variants)]
    if variant != "wall_clock":
        rc = rig.finish(rig.start_load({"SUPERHERO_KILL_AT": variant}))
        return {"variant": variant, "rc": [rc], "hit": rc == -signal.SIGKILL}
    proc, delay = rig.start_load(), rig.rng.uniform(0.3, 1.0) * rig.run_seconds
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    rc = rig.finish(proc)
    return {"variant": "wall_clock", "at_s": round(delay, 2), "rc": [rc], "hit": rc != 0}


def kill_kafka(rig: Rig, n: int) -> dict:
    """SIGKILL the broker during a run, then restart it (its storage is kept)."""
    proc, delay = rig.start_working()
    started = time.monotonic()
    rig.restart("kafka")
    down_s = time.monotonic() - started
    rc = rig.finish(proc)
    return {"at_s": round(delay, 2), "down_s": round(down_s, 1), "rc": [rc], "hit": rc != 0}


def restart_redis(rig: Rig, n: int) -> dict:
    """Kill Redis (no persistence: offsets, locks and fencing counters are gone) mid-run."""
    proc, delay = rig.start_working()
    rig.restart("redis")
    rc = rig.finish(proc)
    return {"at_s": round(delay, 2), "rc": [rc], "hit": rc != 0}


def concurrent_runs(rig: Rig, n: int) -> dict:
    """Two runs started at the same moment: the locks must let only one load."""
    first, second = rig.start_load(), rig.start_load()
    rcs = [rig.finish(first), rig.finish(second)]
    return {"rc": rcs, "hit": 0 in rcs and any(rc != 0 for rc in rcs)}


def output_failure(rig: Rig, n: int) -> dict:
    """The output turns read-only or full during a run, then recovers."""
    variant = "disk_full" if rig.tmpfs and n % 2 else "read_only"
    proc, delay = rig.start_working()
    ballast = rig.output / ".chaos-ballast"
    try:
        if variant == "disk_full":
            _fill(ballast)
        else:
            _read_only(rig, True)
        rc = rig.finish(proc)
    finally:
        if variant == "disk_full":
            ballast.unlink(missing_ok=True)
        else:
            _read_only(rig, False)
    return {"variant": variant, "at_s": round(delay, 2), "rc": [rc], "hit": rc != 0}


def _fill(ballast: Path) -> None:
    """Take every free block of the output's file system (in shrinking pieces)."""
    with open(ballast, "wb") as fh:
        offset, size = 0, 64 << 20
        while size >= 4096:
            try:
                os.posix_fallocate(fh.fileno(), offset, size)
                offset += size
            except OSError:
                size //= 4


def _read_only(rig: Rig, on: bool) -> None:
    if rig.tmpfs:
        opts = "remount,ro" if on else "remount,rw"
        for _ in range(100):  # "busy" while the loader has a file open for writing
            if (
                subprocess.run(["mount", "-o", opts, str(rig.output)], stderr=rig.log).returncode
                == 0
            ):
                return
            time.sleep(0.02)
        raise OSError(f"could not remount {rig.output} {opts}")
    for folder, _dirs, _files in os.walk(rig.output):
        os.chmod(folder, 0o555 if on else 0o755)


FAULTS = {
    "kill_run": kill_run,
    "kill_kafka": kill_kafka,
    "restart_redis": restart_redis,
    "concurrent_runs": concurrent_runs,
    "output_failure": output_failure,
}
