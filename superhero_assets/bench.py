"""`superhero bench`: the loader's throughput against the raw consumer ceiling, on one backlog.

1. Produce N records with the bulk simulator into fresh benchmark topics.
2. Ceiling: a bare confluent-kafka `consume(num_messages=...)` loop over the whole backlog
   that only counts messages and bytes. Best of two passes: before the product run with the
   loader's consumer settings, after it with the big read-ahead the loader used before, so
   neither a cold page cache nor the loader's own settings can lower the bar.
3. Product: one full run (`Loader`: lock, plan, raw landing, the five tables, quarantine,
   manifest, Redis commit) from a fresh offset state, then a run with nothing to do; and,
   separately, the one-shot `dagster asset materialize` CLI on the same backlog.
4. The same at `--scale` x N, for the change in peak RSS.

Every measured phase runs in its own child process, which reports its own wall time, CPU
time (all threads) and peak RSS (its own VmHWM, not ru_maxrss: `peak_rss_mb`), so the
parent's memory never counts. The
benchmark never touches the real topics, their Redis keys or the real output: its topics
are `bench-{tag}.lib.server.*`, its output a fresh folder (under --output-fs if given).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any

from superhero_assets.devserver import MATERIALIZE_ALL, dagster_cli

# The keys of the JSON object `superhero bench` prints (the README documents them).
RESULT_KEYS = (
    "messages",
    "bytes",
    "partitions",
    "ceiling_msg_per_s",
    "product_msg_per_s",
    "ceiling_runs_msg_per_s",
    "ratio",
    "cpu_s_per_million",
    "peak_rss_mb",
    "output_bytes",
    "nothing_to_do_s",
    "product_s",
    "phases_s",
    "dagster_cli_s",
    "reconciled",
    "scaled",
    "machine",
)


def register(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser("bench", help="loader throughput vs the raw consumer ceiling")
    bench.add_argument("--messages", type=int, required=True, help="backlog size N")
    bench.add_argument("--partitions", type=int, help="partitions per topic (default 2 and 4)")
    bench.add_argument("--output-fs", help="root for the output (default: a temporary folder)")
    bench.add_argument("--seed", type=int, default=42)
    bench.add_argument("--scale", type=int, default=5, help="also run at scale x N (0: skip)")
    bench.add_argument("--chunk-messages", type=int, default=100_000)
    bench.add_argument("--no-dagster", action="store_true", help="skip the Dagster CLI timing")
    bench.add_argument(
        "--keep-freed-memory",
        action="store_true",
        help="run the loader with return_memory=False (faster, higher peak RSS)",
    )
    bench.add_argument("--keep", action="store_true", help="keep topics, keys and output")
    bench.set_defaults(handler=_run_cli)


def _run_cli(args: argparse.Namespace, settings) -> int:
    if args.messages < 1:
        raise ValueError("--messages must be at least 1")
    result = run_bench(
        settings.kafka_bootstrap_servers,
        args.messages,
        partitions=args.partitions,
        output_fs=args.output_fs,
        seed=args.seed,
        scale=args.scale,
        chunk_messages=args.chunk_messages,
        dagster=not args.no_dagster,
        keep=args.keep,
        return_memory=not args.keep_freed_memory,
    )
    print(json.dumps(result, indent=1))
    return 0 if result["reconciled"] else 1


def run_bench(
    bootstrap: str,
    messages: int,
    partitions: int | None = None,
    output_fs: str | None = None,
    seed: int | None = 42,
    scale: int = 5,
    chunk_messages: int = 100_000,
    dagster: bool = True,
    keep: bool = False,
    return_memory: bool = True,
) -> dict[str, Any]:
    loader = {"chunk_messages": chunk_messages, "return_memory": return_memory}
    result = run_once(bootstrap, messages, partitions, output_fs, seed, loader, dagster, keep)
    result["scaled"] = None
    if scale and scale > 1:
        big = run_once(
            bootstrap, messages * scale, partitions, output_fs, seed, loader, False, keep
        )
        result["scaled"] = {
            "messages": big["messages"],
            "peak_rss_mb": big["peak_rss_mb"],
            "peak_rss_change_pct": round(
                100 * (big["peak_rss_mb"] - result["peak_rss_mb"]) / result["peak_rss_mb"], 1
            ),
            "ceiling_msg_per_s": big["ceiling_msg_per_s"],
            "product_msg_per_s": big["product_msg_per_s"],
            "ratio": big["ratio"],
            "cpu_s_per_million": big["cpu_s_per_million"],
            "reconciled": big["reconciled"],
        }
        result["reconciled"] = result["reconciled"] and big["reconciled"]
    result["machine"] = machine()
    return {k: result[k] for k in RESULT_KEYS}


def run_once(
    bootstrap: str,
    messages: int,
    partitions: int | None,
    output_fs: str | None,
    seed: int | None,
    loader: dict[str, Any],
    dagster: bool,
    keep: bool,
) -> dict[str, Any]:
    from superhero_assets.stack.topics import ensure_topics

    tag = f"bench-{uuid.uuid4().hex[:8]}"
    lobby, game = f"{tag}.lib.server.lobby", f"{tag}.lib.server.game"
    counts = {lobby: partitions or 2, game: partitions or 4}
    ensure_topics(bootstrap, counts)
    root = _output_root(output_fs, tag)
    cli_root = _output_root(output_fs, tag + "-dagster") if dagster else None
    try:
        expected = produce(bootstrap, lobby, game, messages, seed)
        child = {"bootstrap": bootstrap, "topics": [lobby, game], "messages": messages}
        first = _child("ceiling", child)
        product = _child("product", {**child, "output": root, **loader})
        second = _child("ceiling", {**child, "big_read_ahead": True})
        ceiling = max(first["msg_per_s"], second["msg_per_s"])
        reconciled = reconcile(root, expected)
        result = {
            "messages": messages,
            "bytes": first["bytes"],
            "partitions": counts,
            "ceiling_msg_per_s": round(ceiling),
            "product_msg_per_s": round(product["msg_per_s"]),
            "ratio": round(product["msg_per_s"] / ceiling, 3),
            "cpu_s_per_million": round(product["cpu_s"] / messages * 1e6, 2),
            "peak_rss_mb": product["peak_rss_mb"],
            "output_bytes": product["output_bytes"],
            "nothing_to_do_s": product["nothing_to_do_s"],
            "product_s": product["seconds"],
            "phases_s": product["phases_s"],
            "ceiling_runs_msg_per_s": [round(first["msg_per_s"]), round(second["msg_per_s"])],
            "dagster_cli_s": None,
            "reconciled": reconciled,
            "output_root": root,
            "topics": [lobby, game],
        }
        if dagster:
            result["dagster_cli_s"] = time_dagster_cli(bootstrap, [lobby, game], cli_root)
        return result
    finally:
        if not keep:
            _cleanup(bootstrap, [lobby, game], [root, cli_root])


def machine() -> dict[str, Any]:
    import platform

    import psutil

    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
    }


# ---------------------------------------------------------------- producing the backlog


def produce(bootstrap: str, lobby: str, game: str, messages: int, seed: int | None) -> dict:
    """The bulk simulator's records, renamed to the bench topics; returns what to expect."""
    from superhero_assets.simulator import bulk, kafka_log, wire
    from superhero_assets.simulator.roster import load_roster

    rename = {wire.LOBBY_TOPIC: lobby, wire.GAME_TOPIC: game}
    sink = kafka_log.KafkaSink(bootstrap, (lobby, game), kafka_log.BULK)
    send = sink.fast_emitter()
    expected = {"messages": 0, lobby: 0, game: 0, "attacks": 0, "participants": 0}

    def emit(topic: str, value: str) -> None:
        topic = rename[topic]
        expected[topic] += 1
        if topic == game:
            if '"Attack Completed"' in value:
                expected["attacks"] += 1
        elif '"Starting Match"' in value:
            task = json.loads(json.loads(value)["task"])
            expected["participants"] += len(task["PAYLOAD"]["PARTICIPANTS"])
        send(topic, value)

    sent = bulk.simulate(messages, seed, load_roster(), emit)
    sink.close()
    expected["messages"] = sent
    return expected


# ---------------------------------------------------------------- the measured children


def _child(kind: str, spec: dict) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "superhero_assets.bench", kind, json.dumps(spec)],
        capture_output=True,
        text=True,
        env=os.environ,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"bench {kind} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


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

    from superhero_assets.core.consume import make_consumer, watermarks

    config = _kafka_config(spec["bootstrap"])
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
        cpu0, _ = _usage()
        t0 = time.perf_counter()
        consumer.assign(assignment)
        count = size = 0
        while count < total:
            # Ask for no more than is left: consume() waits for all it asked for (or timeout).
            for msg in consumer.consume(num_messages=min(50_000, total - count), timeout=1.0):
                if msg.error():
                    raise RuntimeError(str(msg.error()))
                count += 1
                size += len(msg.value())
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

    from superhero_assets.core.pipeline import Loader, LoaderConfig
    from superhero_assets.core.store import OutputStore

    def loader() -> Loader:
        config = LoaderConfig(
            topics=tuple(spec["topics"]),
            chunk_messages=spec["chunk_messages"],
            return_memory=spec.get("return_memory", True),
        )
        store = OutputStore(spec["output"])
        return Loader(_kafka_config(spec["bootstrap"]), redis_client(), store, config)

    # The clock times the run, not Python's imports, which are done by now for a local disk.
    # An object store's client package would be imported in the first phase (s3fs: ~0.25 s).
    fsspec.get_filesystem_class(fsspec.core.split_protocol(spec["output"])[0] or "file")
    cpu0, _ = _usage()
    t0 = time.perf_counter()
    run = loader()
    pending = run.prepare(run_id="bench")
    t1 = time.perf_counter()
    raw = run.land_raw(pending)
    t2 = time.perf_counter()
    tables = run.derive_tables(pending)
    t3 = time.perf_counter()
    run.commit(pending)
    t4 = time.perf_counter()
    cpu1, rss = _usage()
    idle = loader()
    t5 = time.perf_counter()
    nothing = idle.prepare(run_id="bench-idle")
    nothing_s = time.perf_counter() - t5
    if nothing is not None:
        raise RuntimeError("the second run found work: the first did not commit everything")
    seconds = t4 - t0
    return {
        "messages": raw["messages"],
        "seconds": round(seconds, 3),
        "msg_per_s": raw["messages"] / seconds,
        "cpu_s": cpu1 - cpu0,
        "peak_rss_mb": round(rss),
        "phases_s": {
            "prepare": round(t1 - t0, 3),
            "land_raw": round(t2 - t1, 3),
            "derive_tables": round(t3 - t2, 3),
            "commit": round(t4 - t3, 3),
        },
        "output_bytes": {
            "raw_messages": raw["bytes"],
            **{k: v["bytes"] for k, v in tables.items()},
        },
        "rows": {k: v["rows"] for k, v in tables.items()},
        "nothing_to_do_s": round(nothing_s, 3),
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
        _delete_keys(redis_client(db), topics)
    return round(seconds, 2)


# ---------------------------------------------------------------- checking and cleaning up


def reconcile(root: str, expected: dict) -> bool:
    """The tables hold exactly the produced backlog: every offset once, every row accounted."""
    from superhero_assets.core import checks
    from superhero_assets.core.store import OutputStore

    store = OutputStore(root)

    def rows(table: str) -> int:
        return checks.row_count(store, store.list(table, ".parquet"))

    n = expected["messages"]
    return all(
        [
            rows("buffer_meta") == n,
            checks.duplicate_msg_ids(store, "buffer_meta") == 0,
            rows("raw_messages") == n,
            rows("log_meta") == n,
            rows("quarantine") == 0,
            rows("lib_server_game") == expected["attacks"],
            rows("lib_server_lobby") == expected["participants"],
        ]
    )


def redis_client(db: int | None = None):
    """The offset state's Redis from the environment (REDIS_*), in database db if given."""
    from superhero_assets.core.connections import redis_from_env

    return redis_from_env(None if db is None else {**os.environ, "REDIS_DB": str(db)})


def _kafka_config(bootstrap: str) -> dict[str, Any]:
    """The environment's Kafka client settings (security, SASL), at the bench's broker."""
    from superhero_assets.core.connections import kafka_config_from_env

    return {**kafka_config_from_env(), "bootstrap.servers": bootstrap}


def _delete_keys(client, topics: list[str]) -> None:
    from superhero_assets.core import contract

    keys = [
        key(t)
        for t in topics
        for key in (
            contract.last_offset_key,
            contract.counts_key,
            contract.lock_key,
            contract.fence_key,
        )
    ]
    client.delete(*keys)


def _output_root(output_fs: str | None, tag: str) -> str:
    if output_fs is None:
        return tempfile.mkdtemp(prefix=f"superhero-{tag}-")
    return f"{output_fs.rstrip('/')}/{tag}"


def _cleanup(bootstrap: str, topics: list[str], roots: list[str | None]) -> None:
    from confluent_kafka.admin import AdminClient

    from superhero_assets.core.store import OutputStore

    admin = AdminClient({"bootstrap.servers": bootstrap})  # must outlive its futures
    for future in admin.delete_topics(topics, operation_timeout=30).values():
        with contextlib.suppress(Exception):  # a topic that never got created is fine
            future.result()
    _delete_keys(redis_client(), topics)
    for root in roots:
        if root is None:
            continue
        store = OutputStore(root)
        if store.is_local:
            shutil.rmtree(store.root, ignore_errors=True)
        elif store.fs.exists(store.root):
            store.fs.rm(store.root, recursive=True)


if __name__ == "__main__":
    _kind, _spec = sys.argv[1], json.loads(sys.argv[2])
    _measure = {"ceiling": measure_ceiling, "product": measure_product}[_kind]
    print(json.dumps(_measure(_spec)))
