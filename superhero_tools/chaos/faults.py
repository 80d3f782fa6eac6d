"""The faults `superhero chaos` injects, each against a real loader run on the chaos stack.

Every fault starts `superhero load` as a subprocess, hurts it, the broker, Redis or the
output at a moment drawn from the seeded generator, and returns what happened. Nothing here
cleans up after the loader: the next run must recover by itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from superhero_assets.core import faults
from superhero_tools.chaos.rig import Rig
from superhero_tools.stack.kafka import node_service

KILL_VARIANTS = (*faults.POINTS, "wall_clock")
KINDS = (
    "kill_run",
    "kill_kafka",
    "restart_redis",
    "concurrent_runs",
    "output_failure",
    "kill_dagster_run",
)
# With --brokers 3 or more, and with --shards 2 or more.
CLUSTER_KINDS = ("kill_broker",)
SHARD_KINDS = ("kill_shard_run", "change_shards")


def kinds_for(brokers: int, shards: int) -> tuple[str, ...]:
    """Every kind that applies to a stack of that many brokers and a load of that many shards."""
    return (
        *KINDS,
        *(CLUSTER_KINDS if brokers >= 3 else ()),
        *(SHARD_KINDS if shards > 1 else ()),
    )


def kill_run(rig: Rig, n: int) -> dict:
    """SIGKILL the run: at a named point (reading/writing, manifest, Redis) or from outside."""
    variant = KILL_VARIANTS[(n + rig.first_variant) % len(KILL_VARIANTS)]
    if variant != "wall_clock":
        rc = rig.finish(rig.start_load({"SUPERHERO_KILL_AT": variant}))
        return {"variant": variant, "rc": [rc], "live": rc == -signal.SIGKILL}
    proc, delay = rig.start_load(), rig.rng.uniform(0.3, 1.0) * rig.run_seconds
    time.sleep(delay)
    live = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    rc = rig.finish(proc)
    return {"variant": "wall_clock", "at_s": round(delay, 2), "rc": [rc], "live": live}


def kill_dagster_run(rig: Rig, n: int) -> dict:
    """SIGKILL a Dagster run (`dagster asset materialize`) at a named point; the next run,
    Dagster's or not, redoes its plan once its locks expire."""
    variant = faults.POINTS[(n + rig.first_variant) % len(faults.POINTS)]
    rc = rig.finish(rig.start_dagster({"SUPERHERO_KILL_AT": variant}))
    return {"variant": f"dagster_{variant}", "rc": [rc], "live": rc == -signal.SIGKILL}


def kill_kafka(rig: Rig, n: int) -> dict:
    """SIGKILL the broker during a run, then restart it (its storage is kept)."""
    proc, delay = rig.start_working(0.5)
    started, live = time.monotonic(), proc.poll() is None
    rig.restart("kafka")
    down_s = time.monotonic() - started
    rc = rig.finish(proc)
    return {"at_s": round(delay, 2), "down_s": round(down_s, 1), "rc": [rc], "live": live}


def kill_broker(rig: Rig, n: int) -> dict:
    """SIGKILL one node of the cluster during a run, a partition's leader in turn, then
    restart it: acks=all with two in-sync copies loses nothing the producer was told of."""
    node = rig.leader_of(rig.topics[1], n % 4) or 1 + n % rig.settings.kafka_brokers
    proc, delay = rig.start_working(0.5)
    started, live = time.monotonic(), proc.poll() is None
    rig.restart(node_service(node))
    down_s = time.monotonic() - started
    rc = rig.finish(proc)
    return {
        "node": node,
        "at_s": round(delay, 2),
        "down_s": round(down_s, 1),
        "rc": [rc],
        "live": live,
    }


def kill_shard_run(rig: Rig, n: int) -> dict:
    """Every shard's run at once; one of them, seeded, is SIGKILLed mid-work. The others
    commit; the killed shard's plan is redone by its next run."""
    victim = rig.rng.randrange(rig.shards)
    runs = [rig.start_load(shard=f"{k}/{rig.shards}") for k in range(1, rig.shards + 1)]
    rig.wait_planned(runs[victim])
    delay = rig.rng.uniform(0.0, 1.0) * rig.work_seconds
    time.sleep(delay)
    live = runs[victim].poll() is None
    runs[victim].send_signal(signal.SIGKILL)
    rcs = [rig.finish(run) for run in runs]
    return {
        "variant": f"shard_{victim + 1}_of_{rig.shards}",
        "at_s": round(delay, 2),
        "rc": rcs,
        "live": live,
    }


def change_shards(rig: Rig, n: int) -> dict:
    """N changes between runs while a plan is pending, and back: a run of one shard dies
    before its commit, N becomes one less (every shard at once), another dies so, and N is
    restored (every shard at once). Each pending plan is redone before its partitions are
    planned anew."""
    before, rcs = rig.shards, []
    for shards in (before - 1, before):
        rcs.append(rig.finish(rig.start_load({"SUPERHERO_KILL_AT": "before_commit"})))
        rig.wait_unlocked()
        rig.shards = shards
        rcs.append(rig.all_shards())
    return {
        "variant": f"{before}->{before - 1}->{before}",
        "rc": rcs,
        "live": rcs[0] == -signal.SIGKILL,
    }


def restart_redis(rig: Rig, n: int) -> dict:
    """Kill Redis and restart it without persistence: offsets, locks and fencing counters go.

    Mid-run (a plan is pending and is redone), or between runs (nothing pending, so the
    next run must recover the offsets from the manifest's head), in turn.
    """
    if (n + rig.first_variant) % 2:
        rig.finish(rig.start_load())  # leaves nothing pending (unless it fails)
        rig.restart("redis")
        rc = rig.finish(rig.start_load())
        return {"variant": "redis_between_runs", "rc": [rc], "live": False}
    proc, delay = rig.start_working(0.5)
    live = proc.poll() is None
    rig.restart("redis")
    rc = rig.finish(proc)
    return {"variant": "redis_mid_run", "at_s": round(delay, 2), "rc": [rc], "live": live}


def concurrent_runs(rig: Rig, n: int) -> dict:
    """Two runs (of one shard, when sharded) started at the same moment: the locks must let
    only one load."""
    shard = rig.next_shard()
    first, second = rig.start_load(shard=shard), rig.start_load(shard=shard)
    rcs = [rig.finish(first), rig.finish(second)]
    return {"rc": rcs, "live": True}


def output_failure(rig: Rig, n: int) -> dict:
    """The output turns read-only or full during a run, then recovers."""
    variant = "disk_full" if rig.tmpfs and n % 2 else "read_only"
    proc, delay = rig.start_working()
    ballast, live = rig.output / ".chaos-ballast", proc.poll() is None
    try:
        if variant == "disk_full":
            fill_disk(ballast)
        elif not _read_only(rig, True):
            variant = "read_only_refused"  # the remount stayed busy: nothing was injected
        rc = rig.finish(proc)
    finally:
        if variant == "disk_full":
            ballast.unlink(missing_ok=True)
        else:
            _read_only(rig, False)
    return {"variant": variant, "at_s": round(delay, 2), "rc": [rc], "live": live}


def fill_disk(ballast: Path) -> None:
    """Take every free block of ballast's file system, in a file of that name.

    It allocates in pieces that shrink as they stop fitting, down to one page, so nothing
    is left that a write could use. Deleting the file gives the space back.
    """
    with open(ballast, "wb") as fh:
        offset, size = 0, 64 << 20
        while size >= 4096:
            try:
                os.posix_fallocate(fh.fileno(), offset, size)
                offset += size
            except OSError:
                size //= 4


def _read_only(rig: Rig, on: bool) -> bool:
    """Make the output read-only (or writable again); False if the remount stayed busy."""
    if not rig.tmpfs:
        for folder, _dirs, _files in os.walk(rig.output):
            os.chmod(folder, 0o555 if on else 0o755)
        return True
    argv = ["mount", "-o", "remount,ro" if on else "remount,rw", str(rig.output)]
    for _ in range(100):  # "busy" while the loader has a file open for writing
        if subprocess.run(argv, stderr=rig.log).returncode == 0:
            return True
        time.sleep(0.02)
    return False


FAULTS = {
    "kill_run": kill_run,
    "kill_kafka": kill_kafka,
    "restart_redis": restart_redis,
    "concurrent_runs": concurrent_runs,
    "output_failure": output_failure,
    "kill_dagster_run": kill_dagster_run,
    "kill_broker": kill_broker,
    "kill_shard_run": kill_shard_run,
    "change_shards": change_shards,
}
