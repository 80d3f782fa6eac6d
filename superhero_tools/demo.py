"""`make demo`: the main job end to end, with the same commands a user would type.

Start the stack, simulate a few hundred matches into Kafka, materialize every asset with
`dagster asset materialize`, then print each table with its row count and location.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from superhero_assets.core import contract
from superhero_tools.devserver import MATERIALIZE_ALL, dagster_cli, dagster_home
from superhero_tools.settings import Settings
from superhero_tools.stack import StackError, manager, procs

DEMO_MESSAGES = 10_000  # about three hundred matches


def _run(argv: list[str], env: dict[str, str], log: Path) -> float:
    print(f"$ {' '.join(argv)}", flush=True)
    started = time.monotonic()
    with log.open("ab") as out:
        result = subprocess.run(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise StackError(f"`{' '.join(argv)}` failed; its last lines ({log}):\n{procs.tail(log)}")
    return time.monotonic() - started


def table_summary(output_fs: Path) -> list[tuple[str, int, int, Path]]:
    rows = []
    for name in ("raw_messages", *contract.TABLES):
        files = sorted(output_fs.glob(f"{name}/**/*.parquet"))
        count = sum(pq.read_metadata(f).num_rows for f in files)
        rows.append((name, count, len(files), output_fs / name))
    return rows


def run_demo(settings: Settings) -> int:
    for status in manager.up(settings):
        print(status.line())
    output_fs = Path(os.environ.get("OUTPUT_FS", "./data")).absolute()
    home = dagster_home(settings)
    env = {
        **os.environ,
        "LOGGER_MODULE": "kafka",
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_cluster_bootstrap,
        "REDIS_HOST": settings.redis_host,
        "REDIS_PORT": str(settings.redis_port),
        "OUTPUT_FS": str(output_fs),
        "DAGSTER_HOME": str(home),
    }
    log = procs.log_path(settings.state_dir, "demo")
    bin_dir = Path(sys.executable).parent
    _run(
        [str(bin_dir / "superhero"), "simulate", "--messages", str(DEMO_MESSAGES), "--no-progress"],
        env,
        log,
    )
    before = {name: count for name, count, _, _ in table_summary(output_fs)}
    seconds = _run(
        dagster_cli(*MATERIALIZE_ALL),
        env,
        log,
    )
    summary = table_summary(output_fs)
    loaded = next(c for n, c, _, _ in summary if n == "buffer_meta") - before["buffer_meta"]
    lobby = ds.dataset(str(output_fs / "lib_server_lobby"), format="parquet")
    matches = len(pc.unique(lobby.to_table(columns=["game_token"])["game_token"]))
    print(
        f"\n{matches} matches in the tables; loaded {loaded} new messages in {seconds:.1f}s "
        f"({loaded / seconds:,.0f} messages/s, `dagster asset materialize` wall time)\n"
    )
    print(f"{'table':<18} {'rows':>9} {'files':>6}  location")
    for name, count, files, where in summary:
        print(f"{name:<18} {count:>9} {files:>6}  {where}/**/*.parquet")
    print(f"\nmanifest: {output_fs / '_manifest'}   dagster runs: DAGSTER_HOME={home}")
    print("Stop the stack with `.venv/bin/superhero stack down`.")
    return 0
