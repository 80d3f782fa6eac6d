"""`superhero worker --channel`: the original's on-demand mode, a load per pub/sub message.

Its Airflow DAGs published on the Redis channel WORKER_CHANNEL to ask for a load. The worker
listens there and runs the ELT job once per request; requests that arrive while a run is
going coalesce into one more run. It complements the lag sensor (which polls the lag):
both may run at once, because the Redis partition locks let only one run load a partition, and a
run with nothing new to load writes nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time

from superhero_tools.devserver import ELT_JOB, dagster_cli, dagster_home
from superhero_tools.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    worker = sub.add_parser("worker", help="run the ELT job on each WORKER_CHANNEL message")
    worker.add_argument(
        "--channel",
        nargs="?",
        const=None,
        default=None,
        help="Redis pub/sub channel (default: WORKER_CHANNEL, else CLEAN)",
    )
    worker.add_argument(
        "--max-runs", type=int, default=0, help="exit after N runs (default: 0, never exit)"
    )
    worker.set_defaults(handler=run_worker)


def launch_run(env: dict[str, str]) -> int:
    return subprocess.run(dagster_cli(*ELT_JOB), env=env).returncode


def run_worker(args: argparse.Namespace, settings: Settings) -> int:
    channel = args.channel or os.getenv("WORKER_CHANNEL", "CLEAN")
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home(settings))}
    from superhero_assets.core import environment

    pubsub = environment.redis_state().client().pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel)
    print(f"worker: listening on Redis channel {channel!r}", flush=True)
    runs = 0
    try:
        while not args.max_runs or runs < args.max_runs:
            if pubsub.get_message(timeout=1.0) is None:
                continue
            while pubsub.get_message(timeout=0.05) is not None:
                pass  # a burst of requests asks for one run
            started = time.monotonic()
            code = launch_run(env)
            runs += 1
            print(
                f"worker: run {runs} finished with exit code {code} in "
                f"{time.monotonic() - started:.1f}s",
                flush=True,
            )
    except KeyboardInterrupt:
        pass
    finally:
        pubsub.close()
    return 0
