"""The chaos rig: the chaos stack, its topics and output, and loader runs started there."""

from __future__ import annotations

import contextlib
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

from superhero_assets.core.run import locks
from superhero_tools.settings import Settings
from superhero_tools.stack import manager, procs


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
    shards: int = 1  # N of `superhero load --shard K/N`; the change_shards fault changes it

    def next_shard(self) -> str | None:
        """The shard the next single run loads: each in turn; None when unsharded."""
        return None if self.shards == 1 else f"{self.runs % self.shards + 1}/{self.shards}"

    def start_load(
        self, env: dict[str, str] | None = None, shard: str | None = None
    ) -> subprocess.Popen:
        shard = shard or self.next_shard()
        self.runs += 1
        self.log.write(f"--- run {self.runs} {env or ''} {f'shard {shard}' if shard else ''}\n")
        self.log.flush()
        return subprocess.Popen(
            [sys.executable, "-m", "superhero_tools.cli", "load", "--topics"]
            + [",".join(self.topics), "--lock-ttl", str(self.lock_ttl_s)]
            + ["--chunk-messages", str(self.chunk_messages), "--output-fs", str(self.output)]
            + (["--shard", shard] if shard else []),
            stdout=self.log,
            stderr=self.log,
            env={**_loader_env(self.settings), **(env or {})},
        )

    def start_dagster(self, env: dict[str, str]) -> subprocess.Popen:
        """`dagster asset materialize --select '*'`: the ELT through Dagster, checks included."""
        self.runs += 1
        self.log.write(f"--- dagster run {self.runs} {env}\n")
        self.log.flush()
        dagster = str(Path(sys.executable).with_name("dagster"))
        # A home of its own: a killed run must not leave a temporary one in the working folder.
        home = self.settings.state_dir / "chaos" / "dagster_home"
        home.mkdir(parents=True, exist_ok=True)
        shard = self.next_shard()
        partition = ["--partition", shard.replace("/", "-of-")] if shard else []
        return subprocess.Popen(
            [dagster, "asset", "materialize", "-m", "superhero_assets.definitions"]
            + ["--select", "*", *partition],
            stdout=self.log,
            stderr=self.log,
            env={
                **_loader_env(self.settings),
                "OUTPUT_FS": str(self.output),
                "SUPERHERO_TOPICS": ",".join(self.topics),
                "ELT_LOCK_TTL_S": str(self.lock_ttl_s),
                "DAGSTER_HOME": str(home),
                "SUPERHERO_SHARDS": str(self.shards),
                **env,
            },
        )

    def finish(self, proc: subprocess.Popen, timeout_s: float = 180.0) -> int:
        try:
            return proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()

    def clean_run(self) -> int:
        """A run without faults; a successful one updates the timings the faults aim with."""
        if self.shards > 1:
            return self.all_shards()
        started = time.monotonic()
        proc = self.start_load()
        planned = self.wait_planned(proc)
        rc = self.finish(proc)
        if rc == 0 and planned is not None:
            self.run_seconds = 0.7 * self.run_seconds + 0.3 * (time.monotonic() - started)
            self.work_seconds = 0.7 * self.work_seconds + 0.3 * (time.monotonic() - planned)
        return rc

    def all_shards(self, env: dict[str, str] | None = None) -> int:
        """A run of every shard, all started at once; 0 when each of them succeeded."""
        procs_ = [self.start_load(env, f"{k}/{self.shards}") for k in range(1, self.shards + 1)]
        return max((abs(self.finish(p)) for p in procs_), default=0)

    def wait_planned(self, proc: subprocess.Popen, timeout_s: float = 20.0) -> float | None:
        """When the run recorded its plan (it holds its locks, reading and writing are next)."""
        pending = self.output / "_manifest" / "pending"
        before, deadline = _identity(pending), time.monotonic() + timeout_s
        while proc.poll() is None and time.monotonic() < deadline:
            if _identity(pending) not in (before, frozenset()):
                return time.monotonic()
            time.sleep(0.005)
        return None

    def start_working(self, within: float = 1.0) -> tuple[subprocess.Popen, float]:
        """Start a run; return once it has planned, plus a seeded moment into its work
        (within that share of a clean run's work)."""
        proc = self.start_load()
        self.wait_planned(proc)
        delay = self.rng.uniform(0.0, within) * self.work_seconds
        time.sleep(delay)
        return proc, delay

    def redis(self) -> redis.Redis:
        return redis.Redis(host=self.settings.redis_host, port=self.settings.redis_port)

    def wait_unlocked(self) -> None:
        """Until no lock on the chaos topics is held (a killed run's locks expire)."""
        deadline = time.monotonic() + self.lock_ttl_s + 10
        while time.monotonic() < deadline:
            try:
                if not locks.held_locks(self.redis(), self.topics):
                    return
            except redis.RedisError:
                pass
            time.sleep(0.2)

    def leader_of(self, topic: str, partition: int) -> int | None:
        """The node leading a partition now, from the cluster's metadata; None if unknown."""
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.settings.kafka_cluster_bootstrap})
        try:
            found = admin.list_topics(topic, timeout=5).topics.get(topic)
        except Exception:  # noqa: BLE001 (a node may be down: fall back to the rotation)
            return None
        part = found.partitions.get(partition) if found is not None else None
        return part.leader if part is not None and part.leader >= 0 else None

    def restart(self, service: str) -> None:
        """SIGKILL the stack's service by its PID record, then start it again."""
        record = procs.read_record(self.settings.state_dir, service)
        if record is not None and record.is_running():
            os.kill(record.pid, signal.SIGKILL)
            while record.is_running():
                time.sleep(0.05)
        manager.up(self.settings, (service,), echo=lambda line: self.log.write(line + "\n"))


def _identity(folder: Path) -> frozenset[tuple[int, int]]:
    """The pending plans in folder, each as (inode, mtime): a new or rewritten one differs."""
    found = set()
    for path in folder.glob("*.json") if folder.exists() else []:
        try:
            st = path.stat()
        except OSError:
            continue
        found.add((st.st_ino, st.st_mtime_ns))
    return frozenset(found)


def _loader_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SUPERHERO_KILL_AT"}
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=settings.kafka_cluster_bootstrap,
        REDIS_HOST=settings.redis_host,
        REDIS_PORT=str(settings.redis_port),
        REDIS_DB="0",
        REDIS_PASSWORD="",  # the chaos stack has no AUTH, TLS or SASL, whatever the shell says
        REDIS_SSL="false",
        KAFKA_SECURITY_PROTOCOL="PLAINTEXT",
        KAFKA_SASL_MECHANISM="",
        KAFKA_SASL_USERNAME="",
        KAFKA_SASL_PASSWORD="",
    )
    return env


def mount_tmpfs(path: Path) -> bool:
    """A small tmpfs of our own, so a full disk and a read-only remount are real (root only)."""
    if os.geteuid() != 0:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512m", "chaos-output", str(path)])
    return done.returncode == 0


def unmount(path: Path) -> None:
    with contextlib.suppress(OSError):
        if os.path.ismount(path):
            subprocess.run(["umount", "-l", str(path)], check=False)
