"""One benchmark: a fresh backlog, the ceiling, the product, the Dagster CLI, and the check."""

from __future__ import annotations

import os
import sys
import uuid
from typing import Any

from superhero_assets.cli.progress import ProgressLine, step
from superhero_tools.bench.backlog import cleanup, output_root, produce, reconcile
from superhero_tools.bench.measure import measure_in_child, time_dagster_cli

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
    progress: bool = False,
) -> dict[str, Any]:
    """progress: draw each phase's progress on stderr (the caller checks it is a terminal)."""
    loader = {"chunk_messages": chunk_messages, "return_memory": return_memory}
    result = run_once(
        bootstrap, messages, partitions, output_fs, seed, loader, dagster, keep, progress
    )
    result["scaled"] = None
    if scale and scale > 1:
        big = run_once(
            bootstrap, messages * scale, partitions, output_fs, seed, loader, False, keep, progress
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
    progress: bool = False,
) -> dict[str, Any]:
    from superhero_tools.stack.topics import ensure_topics

    tag = f"bench-{uuid.uuid4().hex[:8]}"
    lobby, game = f"{tag}.lib.server.lobby", f"{tag}.lib.server.game"
    counts = {lobby: partitions or 2, game: partitions or 4}
    ensure_topics(bootstrap, counts)
    root = output_root(output_fs, tag)
    cli_root = output_root(output_fs, tag + "-dagster") if dagster else None
    stream = sys.stderr if progress else None

    def label(phase: str) -> str:
        return f"bench {messages:,}: {phase}"

    def in_child(kind: str, spec: dict[str, Any], phase: str) -> dict[str, Any]:
        return measure_in_child(kind, spec, label(phase) if progress else None)

    try:
        with ProgressLine(label("produce"), stream, total=messages) as line:
            expected = produce(bootstrap, lobby, game, messages, seed, line)
        spec = {"bootstrap": bootstrap, "topics": [lobby, game], "messages": messages}
        first = in_child("ceiling", spec, "ceiling")
        product = in_child("product", {**spec, "output": root, **loader}, "load")
        second = in_child("ceiling", {**spec, "big_read_ahead": True}, "ceiling, big read-ahead")
        ceiling = max(first["msg_per_s"], second["msg_per_s"])
        with step(label("check the tables against the backlog"), stream):
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
            with step(label("dagster asset materialize"), stream):
                result["dagster_cli_s"] = time_dagster_cli(bootstrap, [lobby, game], cli_root)
        return result
    finally:
        if not keep:
            with step(label("clean up"), stream):
                cleanup(bootstrap, [lobby, game], [root, cli_root])


def machine() -> dict[str, Any]:
    import platform

    import psutil

    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
    }
