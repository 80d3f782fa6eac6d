"""`superhero load`: one batch run in-process, without Dagster (for scripts, chaos and benches)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time

from superhero_assets.cli import options, progress
from superhero_assets.core import contract, environment
from superhero_assets.core.run.pipeline import Loader
from superhero_assets.core.run.shard import ENV_VAR, Shard, ShardError, shard_count
from superhero_assets.core.store.output_store import OutputStore


def register(sub: argparse._SubParsersAction) -> None:
    load = sub.add_parser("load", help="one batch run: Kafka -> Parquet, offsets in Redis")
    options.add_output_fs(load, "where the Parquet tables go")
    options.add_topics(load, "the topics to load")
    load.add_argument(
        "--chunk-messages",
        type=int,
        default=100_000,
        help="offsets per Parquet file, which bounds a run's memory (default: 100000)",
    )
    load.add_argument(
        "--lock-ttl",
        type=int,
        default=int(os.getenv("ELT_LOCK_TTL_S", "30")),
        help="seconds a crashed run keeps its partition locks (default: ELT_LOCK_TTL_S, else 30)",
    )
    load.add_argument(
        "--shard",
        type=_shard,
        default=None,
        help="load only shard K of N, the partitions p with p mod N = K-1: K/N, or K with N "
        "from SUPERHERO_SHARDS; shards run at once, each on its own partitions "
        "(default: every partition, in one run)",
    )
    options.add_no_progress(load)
    load.set_defaults(handler=run_load)


def _shard(text: str) -> Shard:
    try:
        if "/" not in text:
            return Shard(int(text) if text.isdigit() else 0, shard_count(os.getenv(ENV_VAR)))
        return Shard.parse(text)
    except ShardError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_loader(args: argparse.Namespace) -> Loader:
    """The Loader that BatchLoaderResource.loader() builds, from the settings Dagster's
    resources are made of (without importing Dagster); the flags stand for their variables."""
    settings = environment.for_cli(
        output_fs=args.output_fs,
        source_topics=list(args.topics),
        chunk_messages=args.chunk_messages,
        lock_ttl_s=args.lock_ttl,
    )
    return settings.loader(shard=args.shard)


def run_load(args: argparse.Namespace, settings) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    started = time.monotonic()
    loader = build_loader(args)
    pending = loader.prepare(run_id=f"cli-{os.getpid()}-{time.time_ns()}")
    if pending is None:
        print(json.dumps({"loaded": 0, "seconds": round(time.monotonic() - started, 3)}))
        return 0
    stream = sys.stderr if progress.wanted(args.no_progress) else None
    planned = sum(c.last - c.first + 1 for c in pending.plan.chunks)
    # The total counts offsets, and a few may hold no message (transaction markers), and a
    # redone run skips the chunks landed before it died: the line may end short of it.
    with progress.ProgressLine("load", stream, total=planned) as line:
        if stream is not None:
            loader.on_batch_read = lambda b: line.add(b.num_rows, progress.value_bytes(b))
        landed = loader.land(pending)
    entry = loader.commit(pending)
    summary = {
        "etl_id": entry["etl_id"],
        "kind": entry["kind"],
        "loaded": landed["raw_messages"].rows,
        "rows": {name: landed[name].rows for name in contract.TABLES},
        "seconds": round(time.monotonic() - started, 3),
        "output_fs": loader.store.root,
        "shard": str(loader.config.shard),
    }
    print(json.dumps(summary))
    return 0


def register_freshness(sub: argparse._SubParsersAction) -> None:
    fresh = sub.add_parser("freshness", help="age of the newest loaded message, and delays")
    options.add_output_fs(fresh, "the output to inspect")
    fresh.add_argument(
        "--runs", type=int, default=50, help="delays over the newest N runs (default: 50)"
    )
    fresh.set_defaults(handler=run_freshness)


def run_freshness(args: argparse.Namespace, settings) -> int:
    from datetime import UTC, datetime

    from superhero_assets.core.quality.freshness import delays, newest_loaded

    store = OutputStore(args.output_fs)
    newest = newest_loaded(store)
    report = {
        "output_fs": store.root,
        "newest_loaded_message": newest.isoformat() if newest else None,
        "newest_loaded_age_s": round((datetime.now(UTC) - newest).total_seconds(), 1)
        if newest
        else None,
        "produce_to_parquet_delay": {k: round(v, 3) for k, v in delays(store, args.runs).items()},
    }
    print(json.dumps(report))
    return 0
