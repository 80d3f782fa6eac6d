"""The `superhero bench` command line."""

from __future__ import annotations

import argparse
import json

from superhero_assets.bench.run import run_bench


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
