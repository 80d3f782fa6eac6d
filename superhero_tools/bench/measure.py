"""The measured phases, each run in a child process that reports its own time and memory."""

from __future__ import annotations

import contextlib
import gc
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

from superhero_assets.cli.progress import ProgressLine, value_bytes
from superhero_tools.bench.backlog import delete_keys, kafka_config, redis_client
from superhero_tools.devserver import MATERIALIZE_ALL, dagster_cli


def measure_in_child(kind: str, spec: dict, progress_label: str | None = None) -> dict:
    """Run one phase in a child; with progress_label, it draws its progress on our stderr.

    The child's own stderr is kept for the error message, so its progress line goes to a
    copy of ours, handed over as a file descriptor of its own.
    """
    progress_fd = os.dup(sys.stderr.fileno()) if progress_label is not None else None
    if progress_fd is not None:
        spec = {**spec, "progress": {"fd": progress_fd, "label": progress_label}}
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "superhero_tools.bench", kind, json.dumps(spec)],
            capture_output=True,
            text=True,
            env=os.environ,
            pass_fds=() if progress_fd is None else (progress_fd,),
        )
    finally:
        if progress_fd is not None:
            os.close(progress_fd)
    if proc.returncode != 0:
        raise RuntimeError(f"bench {kind} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def progress_line(spec: dict, total: int | None) -> ProgressLine:
    """The child's progress line: on the descriptor measure_in_child handed over, if any."""
    shown = spec.get("progress")
    if shown is None:
        return ProgressLine("", None)
    return ProgressLine(shown["label"], open(shown["fd"], "w", closefd=False), total)


def _usage() -> tuple[float, float]:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime, peak_rss_mb()


def peak_rss_mb() -> float:
    """This process's own peak resident memory, in MiB.

    Not ru_maxrss where /proc exists: Linux carries the peak of the process that started
    this one into it at exec, so a child of the bench (which produced the backlog and holds
    a few hundred MB) reported the bench's peak, not its own. VmHWM is this memory's own.
    """
    with contextlib.suppress(OSError), open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / (2**20 if sys.platform == "darwin" else 1024)  # bytes on macOS, else KiB


def measure_ceiling(spec: dict) -> dict:
    """Count messages and bytes with the loader's own consumer settings, nothing else."""
    from confluent_kafka import TopicPartition

    from superhero_assets.core.kafka.consume import make_consumer, watermarks

    config = kafka_config(spec["bootstrap"])
    # This loop makes a Python object per message: keep the collector from walking every
    # object the imports made (Dagster's resources among them) again and again.
    gc.freeze()
    if spec.get("big_read_ahead"):  # the settings before issue 6, so ours never lower the bar
        config.update(
            {
                "fetch.max.bytes": 64 * 1024 * 1024,
                "max.partition.fetch.bytes": 16 * 1024 * 1024,
                "queued.max.messages.kbytes": 256 * 1024,
                "fetch.queue.backoff.ms": 1000,
            }
        )
    consumer = make_consumer(config)
    try:
        assignment, total = [], 0
        for topic in spec["topics"]:
            for p, (low, high) in watermarks(consumer, topic).items():
                assignment.append(TopicPartition(topic, p, low))
                total += high - low
        line = progress_line(spec, total)
        cpu0, _ = _usage()
        t0 = time.perf_counter()
        consumer.assign(assignment)
        count = size = 0
        with line:
            while count < total:
                # Ask for no more than is left: consume() waits for all it asked (or timeout).
                for msg in consumer.consume(num_messages=min(50_000, total - count), timeout=1.0):
                    if msg.error():
                        raise RuntimeError(str(msg.error()))
                    count += 1
                    size += len(msg.value())
                line.update_to(count, size)  # once per consume() call, not per message
        seconds = time.perf_counter() - t0
        cpu1, rss = _usage()
    finally:
        consumer.close()
    return {
        "messages": count,
        "bytes": size,
        "seconds": seconds,
        "msg_per_s": count / seconds,
        "cpu_s": cpu1 - cpu0,
        "peak_rss_mb": round(rss),
    }


def measure_product(spec: dict) -> dict:
    """One full run from a fresh offset state, then one with nothing to do."""
    import fsspec

    from superhero_assets.core.run.pipeline import Loader, LoaderConfig
    from superhero_assets.core.run.shard import Shard
    from superhero_assets.core.store.output_store import OutputStore

    def loader() -> Loader:
        config = LoaderConfig(
            topics=tuple(spec["topics"]),
            chunk_messages=spec["chunk_messages"],
            return_memory=spec.get("return_memory", True),
            shard=Shard.parse(spec.get("shard", "1/1")),
        )
        store = OutputStore(spec["output"])
        return Loader(kafka_config(spec["bootstrap"]), redis_client(), store, config)

    # The clock times the run, not Python's imports, which are done by now for a local disk.
    # An object store's client package would be imported in the first phase. What prepare
    # imports on first use (Kafka's admin client) is imported here, as a deployment or a
    # long-lived worker has it loaded before any run.
    import confluent_kafka.admin  # noqa: F401

    fsspec.get_filesystem_class(fsspec.core.split_protocol(spec["output"])[0] or "file")
    kafka_config(spec["bootstrap"])
    cpu0, _ = _usage()
    started_at = time.time()
    t0 = time.perf_counter()
    run = loader()
    pending = run.prepare(run_id="bench")
    t1 = time.perf_counter()
    with progress_line(spec, spec["messages"]) as line:
        if line.stream is not None:
            run.on_batch_read = lambda batch: line.add(batch.num_rows, value_bytes(batch))
        landed = run.land(pending)
    t2 = time.perf_counter()
    run.commit(pending)
    t3 = time.perf_counter()
    ended_at = time.time()
    cpu1, rss = _usage()
    idle = loader()
    t5 = time.perf_counter()
    nothing = idle.prepare(run_id="bench-idle")
    nothing_s = time.perf_counter() - t5
    if nothing is not None:
        raise RuntimeError("the second run found work: the first did not commit everything")
    seconds = t3 - t0
    messages = landed["raw_messages"].rows
    return {
        "messages": messages,
        "seconds": round(seconds, 3),
        "msg_per_s": messages / seconds,
        "cpu_s": cpu1 - cpu0,
        "peak_rss_mb": round(rss),
        "phases_s": {
            "prepare": round(t1 - t0, 3),
            "land": round(t2 - t1, 3),
            "commit": round(t3 - t2, 3),
        },
        "output_bytes": {name: table.bytes for name, table in landed.items()},
        "rows": {name: table.rows for name, table in landed.items() if name != "raw_messages"},
        "nothing_to_do_s": round(nothing_s, 3),
        "started_at": started_at,
        "ended_at": ended_at,
    }


def time_dagster_cli(bootstrap: str, topics: list[str], root: str) -> float:
    """Wall time of `dagster asset materialize --select '*'` on the bench topics (fresh state)."""
    db = int(os.getenv("SUPERHERO_BENCH_REDIS_DB", "15"))
    home = tempfile.mkdtemp(prefix="superhero-bench-dagster-home-")
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "OUTPUT_FS": root,
        "DAGSTER_HOME": home,
        "REDIS_DB": str(db),
        "SUPERHERO_TOPICS": ",".join(topics),
    }
    try:
        t0 = time.perf_counter()
        proc = subprocess.run(
            dagster_cli(*MATERIALIZE_ALL),
            capture_output=True,
            text=True,
            env=env,
        )
        seconds = time.perf_counter() - t0
        if proc.returncode != 0 or "RUN_SUCCESS" not in proc.stderr:
            raise RuntimeError(f"dagster asset materialize failed:\n{proc.stderr[-4000:]}")
    finally:
        shutil.rmtree(home, ignore_errors=True)
        delete_keys(redis_client(db), topics)
    return round(seconds, 2)
