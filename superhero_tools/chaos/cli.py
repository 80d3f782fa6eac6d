"""`superhero chaos --kills K --seed S`: real faults on a dedicated stack, then a reconciliation.

A producer keeps writing matches (and a known share of bad messages) into the chaos topics
while K faults hit loader runs. Then the producer stops, clean runs drain everything, and
the tables are reconciled message by message with what the producer had acknowledged.
Exit 1 when anything was lost, duplicated or changed, or an asset-check question fails.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter

from superhero_assets.core.run import manifest
from superhero_assets.core.store.output_store import OutputStore
from superhero_tools.chaos import checks, faults, reconcile
from superhero_tools.chaos.rig import Rig, mount_tmpfs, unmount
from superhero_tools.settings import Settings
from superhero_tools.stack import StackError, manager
from superhero_tools.stack.topics import ensure_topics


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("chaos", help="inject real faults on a dedicated stack; prove exactly-once")
    p.add_argument(
        "--kills", type=int, default=10, help="faults to inject, all kinds in turn (default: 10)"
    )
    p.add_argument(
        "--seed", type=int, default=1, help="same seed, same faults and moments (default: 1)"
    )
    p.add_argument(
        "--rate", type=float, default=300.0, help="messages produced per second (default: 300)"
    )
    p.add_argument(
        "--lock-ttl", type=int, default=2, help="seconds a dead run keeps its locks (default: 2)"
    )
    p.add_argument(
        "--chunk-messages", type=int, default=500, help="offsets per file (default: 500)"
    )
    p.add_argument(
        "--state-dir",
        default=os.getenv("CHAOS_STATE_DIR", ".superhero-chaos"),
        help="the chaos stack's own state folder, wiped at the start "
        "(default: CHAOS_STATE_DIR, else .superhero-chaos)",
    )
    p.add_argument(
        "--kafka-port",
        type=int,
        default=int(os.getenv("CHAOS_KAFKA_PORT", "29392")),
        help="the chaos Kafka's port (default: CHAOS_KAFKA_PORT, else 29392)",
    )
    p.add_argument(
        "--controller-port",
        type=int,
        default=0,
        help="the chaos Kafka's controller port (default: the Kafka port + 1)",
    )
    p.add_argument(
        "--redis-port",
        type=int,
        default=int(os.getenv("CHAOS_REDIS_PORT", "26579")),
        help="the chaos Redis's port (default: CHAOS_REDIS_PORT, else 26579)",
    )
    p.add_argument(
        "--brokers",
        type=int,
        default=1,
        help="Kafka nodes of the chaos stack; 3 or more adds the kill_broker fault (default: 1)",
    )
    p.add_argument(
        "--shards",
        type=int,
        default=1,
        help="load in N shards, `superhero load --shard K/N`; 2 or more adds the "
        "kill_shard_run and change_shards faults (default: 1)",
    )
    p.add_argument(
        "--kinds",
        type=lambda text: tuple(k for k in text.split(",") if k),
        default=None,
        help="only these fault kinds, comma-separated (default: every kind that applies)",
    )
    p.add_argument(
        "--no-tmpfs",
        action="store_true",
        help="never mount a tmpfs for the output (default: mount one when run as root, so "
        "the disk faults are real)",
    )
    p.set_defaults(handler=run_chaos)


def chaos_settings(args: argparse.Namespace) -> Settings:
    """The chaos stack: its own ports and state folder, Redis without persistence."""
    env = {
        **os.environ,
        "SUPERHERO_STATE_DIR": args.state_dir,
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{args.kafka_port}",
        "KAFKA_CONTROLLER_PORT": str(args.controller_port or args.kafka_port + 1),
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(args.redis_port),
        "REDIS_PERSISTENCE": "off",
        "REDIS_PASSWORD": "",
        "SUPERHERO_KAFKA_BROKERS": str(args.brokers),
    }
    return Settings.from_env(env)


def schedule(kills: int, rng: random.Random, kinds: tuple[str, ...] = faults.KINDS) -> list[str]:
    """Every kind once per round, in a seeded order, so a short run still covers them all."""
    order: list[str] = []
    while len(order) < kills:
        order += rng.sample(kinds, len(kinds))
    return order[:kills]


def run_chaos(args: argparse.Namespace, _settings: Settings) -> int:
    settings, started = chaos_settings(args), time.monotonic()
    applicable = faults.kinds_for(args.brokers, args.shards)
    kinds = args.kinds or applicable
    if args.shards < 1 or not set(kinds) <= set(applicable):
        raise StackError(
            f"--kinds {','.join(kinds)}: with --brokers {args.brokers} and --shards "
            f"{args.shards} the kinds are {', '.join(applicable)}"
        )
    work, output = settings.state_dir / "chaos", settings.state_dir / "output"

    def say(line: str) -> None:
        print(f"chaos: {line}", file=sys.stderr, flush=True)

    state = settings.state_dir
    if state.exists() and any(state.iterdir()) and not (state / "chaos").is_dir():
        raise StackError(f"{state} is not a chaos state folder; refusing to wipe it")
    unmount(output)
    manager.down(settings, purge=True, echo=say)  # the chaos stack is disposable
    if any(st.owner != "stack" for st in manager.up(settings, echo=say)):
        raise StackError(f"chaos needs its own stack, but its ports answer already: {settings}")
    producer = None
    try:
        work.mkdir(parents=True)
        output.mkdir(parents=True)
        tmpfs = not args.no_tmpfs and mount_tmpfs(output)
        topics = (f"chaos{args.seed}.lib.server.lobby", f"chaos{args.seed}.lib.server.game")
        ensure_topics(settings.kafka_cluster_bootstrap, {topics[0]: 2, topics[1]: 4})
        rng = random.Random(args.seed)
        log = open(work / "runs.log", "a")  # noqa: SIM115 (closed with the process)
        rig = Rig(settings, topics, output, log, rng, args.lock_ttl, args.chunk_messages, tmpfs)
        rig.shards = args.shards
        rig.first_variant = rng.randrange(len(faults.KILL_VARIANTS))
        producer = subprocess.Popen(
            [sys.executable, "-m", "superhero_tools.chaos.producer"]
            + ["--bootstrap", settings.kafka_cluster_bootstrap, "--seed", str(args.seed)]
            + ["--lobby-topic", topics[0], "--game-topic", topics[1], "--rate", str(args.rate)]
            + ["--ledger", str(work / "ledger.jsonl")],
            stderr=log,
        )
        time.sleep(2.0)
        rig.clean_run()  # also measures how long a run takes, to aim the kills
        injected, live, broke, variants = Counter(), Counter(), Counter(), Counter()
        for i, kind in enumerate(schedule(args.kills, rng, kinds), 1):
            rig.wait_unlocked()
            t0 = time.monotonic()
            event = faults.FAULTS[kind](rig, injected[kind])
            injected[kind] += 1
            live[kind] += bool(event["live"])
            broke[kind] += any(rc != 0 for rc in event["rc"])
            variants[event.get("variant", kind)] += 1
            say(f"[{i}/{args.kills}] {kind} {event} ({time.monotonic() - t0:.1f}s)")
            if producer.poll() is not None:
                raise StackError(f"the chaos producer died (exit {producer.returncode})")
        producer.send_signal(signal.SIGTERM)
        producer_rc = producer.wait(180)
        store = OutputStore(str(output))
        drain_runs = _drain(rig, store)
        produced, end = reconcile.read_ledger(work / "ledger.jsonl")
        result = reconcile.reconcile(produced, reconcile.read_output(store))
        passed, detail = checks.run_checks(
            store, rig.redis(), settings.kafka_cluster_bootstrap, topics
        )
        tables = result.pop("tables")
        producer_ok = producer_rc == 0 and end.get("failed") == 0
        bad = ("lost", "duplicated", "wrong", "unexpected")
        ok = producer_ok and all(passed.values()) and not any(result[k] for k in bad)
        summary = {
            "ok": ok,
            "seed": args.seed,
            "kills": args.kills,
            "brokers": args.brokers,
            "shards": args.shards,
            "faults_injected": dict(injected),
            "faults_that_struck_a_live_run": dict(live),
            "faults_that_failed_a_run": dict(broke),
            "variants": dict(variants),
            "messages": result,
            "tables": tables,
            "checks_failed": sorted(k for k, v in passed.items() if not v),
            "checks_passed": sum(passed.values()),
            "check_details": detail,
            "loader_runs": rig.runs,
            "drain_runs": drain_runs,
            "producer_exit": producer_rc,
            "output_on_tmpfs": tmpfs,
            "seconds": round(time.monotonic() - started, 1),
        }
        print(json.dumps(summary, indent=1))
        return 0 if ok else 1
    finally:
        if producer is not None and producer.poll() is None:
            producer.kill()
            producer.wait()
        unmount(output)
        manager.down(settings, echo=say)


def _drain(rig: Rig, store: OutputStore, attempts: int = 10) -> int:
    """Clean runs until nothing is pending and the committed offsets reach the end."""
    for n in range(1, attempts + 1):
        rig.wait_unlocked()
        rc = rig.clean_run()
        behind = checks.uncommitted(
            store, rig.redis(), rig.settings.kafka_cluster_bootstrap, rig.topics
        )
        if rc == 0 and not behind and not manifest.read_pendings(store):
            return n
    raise StackError(f"the drain did not finish in {attempts} clean runs; see runs.log")
