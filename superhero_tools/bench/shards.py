"""`superhero bench --shards`: one backlog loaded by N shard processes at once, per N.

Every N loads the same backlog from a fresh offset state into an output of its own, with N
children running `prepare, land, commit` for shard K/N at the same time. The aggregate
rate spans the first child's start to the last one's end; CPU is summed over the children.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from superhero_assets.cli.progress import ProgressLine, step
from superhero_tools.bench.backlog import (
    cleanup,
    delete_keys,
    output_root,
    produce,
    reconcile,
    redis_client,
)
from superhero_tools.bench.measure import measure_in_child


def run_shard_bench(
    bootstrap: str,
    messages: int,
    shard_counts: list[int],
    partitions: int | None,
    output_fs: str | None,
    seed: int | None,
    loader: dict[str, Any],
    stream=None,
) -> dict[str, Any]:
    from superhero_tools.stack.topics import ensure_topics

    tag = f"bench-{uuid.uuid4().hex[:8]}"
    lobby, game = f"{tag}.lib.server.lobby", f"{tag}.lib.server.game"
    counts = {lobby: partitions or 2, game: partitions or 4}
    ensure_topics(bootstrap, counts)
    roots: list[str | None] = []
    try:
        with ProgressLine(f"bench {messages:,}: produce", stream, total=messages) as line:
            expected = produce(bootstrap, lobby, game, messages, seed, line)
        spec = {"bootstrap": bootstrap, "topics": [lobby, game], "messages": messages, **loader}
        by_n: dict[str, Any] = {}
        for n in sorted({1, *shard_counts}):
            root = output_root(output_fs, f"{tag}-{n}-shards")
            roots.append(root)
            delete_keys(redis_client(), [lobby, game])  # each N starts from nothing loaded
            with step(f"bench {messages:,}: {n} shard(s) at once", stream):
                runs = _shards_at_once({**spec, "output": root}, n)
                reconciled = reconcile(root, expected)
            by_n[str(n)] = _aggregate(runs, reconciled)
        one = by_n["1"]["cpu_s_per_million"]
        for figures in by_n.values():
            figures["cpu_change_pct"] = round(100 * (figures["cpu_s_per_million"] - one) / one, 1)
        return {
            "messages": expected["messages"],
            "partitions": counts,
            "shards": by_n,
            "reconciled": all(f["reconciled"] for f in by_n.values()),
        }
    finally:
        cleanup(bootstrap, [lobby, game], roots)


def _shards_at_once(spec: dict[str, Any], n: int) -> list[dict[str, Any]]:
    with ThreadPoolExecutor(n) as pool:
        return list(
            pool.map(
                lambda k: measure_in_child("product", {**spec, "shard": f"{k}/{n}"}),
                range(1, n + 1),
            )
        )


def _aggregate(runs: list[dict[str, Any]], reconciled: bool) -> dict[str, Any]:
    loaded = sum(r["messages"] for r in runs)
    wall = max(r["ended_at"] for r in runs) - min(r["started_at"] for r in runs)
    return {
        "msg_per_s": round(loaded / wall),
        "seconds": round(wall, 3),
        "cpu_s_per_million": round(sum(r["cpu_s"] for r in runs) / loaded * 1e6, 2),
        "peak_rss_mb_per_shard": [r["peak_rss_mb"] for r in runs],
        "messages_per_shard": [r["messages"] for r in runs],
        "reconciled": reconciled and loaded > 0,
    }
