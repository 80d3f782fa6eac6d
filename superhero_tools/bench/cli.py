"""The `superhero bench` command line."""

from __future__ import annotations

import argparse
import json
import sys

from superhero_assets.cli import options, progress
from superhero_tools.bench.run import run_bench


def register(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser(
        "bench",
        help="loader throughput vs the raw consumer ceiling",
        description="Produces a backlog into fresh bench-* topics on KAFKA_BOOTSTRAP_SERVERS, "
        "measures the bare consumer and the loader on it, checks the tables against it, and "
        "prints one JSON object. The offsets go to the Redis of REDIS_HOST and REDIS_PORT "
        "(the Dagster timing: database SUPERHERO_BENCH_REDIS_DB, else 15). It never touches "
        "the real topics, their Redis keys or OUTPUT_FS.",
    )
    bench.add_argument(
        "--messages", type=int, required=True, help="backlog size N (required: no default)"
    )
    bench.add_argument(
        "--partitions",
        type=int,
        help="partitions per topic (default: 2 for the lobby topic, 4 for the game topic)",
    )
    bench.add_argument(
        "--output-fs",
        metavar="PATH_OR_URL",
        help="root of the bench's output, in a folder of its own below it "
        "(default: a temporary folder; never OUTPUT_FS)",
    )
    bench.add_argument(
        "--seed", type=int, default=42, help="the simulator's seed, for the backlog (default: 42)"
    )
    bench.add_argument(
        "--scale",
        type=int,
        default=5,
        help="also run at scale x N, for the change in peak memory (default: 5; 0 skips it)",
    )
    bench.add_argument(
        "--chunk-messages",
        type=int,
        default=100_000,
        help="offsets per Parquet file, as in `superhero load` (default: 100000)",
    )
    bench.add_argument(
        "--no-dagster",
        action="store_true",
        help="skip the timing of `dagster asset materialize` (default: timed, at N only)",
    )
    bench.add_argument(
        "--keep-freed-memory",
        action="store_true",
        help="run the loader with return_memory=False: faster, higher peak memory "
        "(default: freed memory goes back to the OS)",
    )
    bench.add_argument(
        "--keep",
        action="store_true",
        help="keep the bench topics, their Redis keys and the output (default: deleted)",
    )
    bench.add_argument(
        "--shards",
        type=_counts,
        metavar="N[,M...]",
        help="instead, load the backlog with N shard processes at once, for each N and for "
        "1, and report each N's aggregate msg/s, CPU-s per million messages and peak memory "
        "per shard process (default: off; try --shards 2,4 --partitions 4)",
    )
    options.add_no_progress(bench)
    bench.set_defaults(handler=_run_cli)


def _counts(text: str) -> list[int]:
    counts = [int(n) for n in text.split(",") if n.strip().isdigit()]
    if not counts or min(counts) < 1 or len(counts) != len(text.split(",")):
        raise argparse.ArgumentTypeError(f"{text!r}: give shard counts, e.g. 2,4")
    return counts


def _run_cli(args: argparse.Namespace, settings) -> int:
    if args.messages < 1:
        raise ValueError("--messages must be at least 1")
    if args.shards:
        from superhero_tools.bench.run import machine
        from superhero_tools.bench.shards import run_shard_bench

        shards = run_shard_bench(
            settings.kafka_cluster_bootstrap,
            args.messages,
            args.shards,
            partitions=args.partitions,
            output_fs=args.output_fs,
            seed=args.seed,
            loader={
                "chunk_messages": args.chunk_messages,
                "return_memory": not args.keep_freed_memory,
            },
            stream=sys.stderr if progress.wanted(args.no_progress) else None,
        )
        print(json.dumps({**shards, "machine": machine()}, indent=1))
        return 0 if shards["reconciled"] else 1
    result = run_bench(
        settings.kafka_cluster_bootstrap,
        args.messages,
        partitions=args.partitions,
        output_fs=args.output_fs,
        seed=args.seed,
        scale=args.scale,
        chunk_messages=args.chunk_messages,
        dagster=not args.no_dagster,
        keep=args.keep,
        return_memory=not args.keep_freed_memory,
        progress=progress.wanted(args.no_progress),
    )
    print(json.dumps(result, indent=1))
    return 0 if result["reconciled"] else 1
