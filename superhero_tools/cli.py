"""`superhero`: the project's command line: the local stack, the simulator, loads and Dagster."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time

from superhero_tools.settings import MAX_KAFKA_BROKERS, Settings
from superhero_tools.stack import StackError


def _stack(args: argparse.Namespace, settings: Settings) -> int:
    from superhero_tools.stack import emulators, kafka, manager, procs

    if getattr(args, "brokers", None):
        settings = dataclasses.replace(settings, kafka_brokers=args.brokers)
    services = tuple(args.only.split(",")) if getattr(args, "only", None) else manager.SERVICES
    unknown = set(services) - set(manager.SERVICES)
    if unknown:
        raise StackError(f"unknown service(s) {sorted(unknown)}; choose from {manager.SERVICES}")
    extra = tuple(s for s in (getattr(args, "with_", None) or "").split(",") if s)
    unknown = set(extra) - set(emulators.EMULATORS)
    if unknown:
        raise StackError(f"unknown --with {sorted(unknown)}; choose from {emulators.EMULATORS}")
    if args.action == "up":
        t0 = time.monotonic()
        statuses = manager.up(settings, services, with_emulators=extra)
        for st in statuses:
            print(st.line())
        print(f"stack ready in {time.monotonic() - t0:.1f}s (state: {settings.state_dir})")
        if settings.kafka_brokers > 1 and "kafka" in services:
            print(f"kafka: export KAFKA_BOOTSTRAP_SERVERS={settings.kafka_cluster_bootstrap}")
        es = emulators.EmulatorSettings.from_env()
        for service in extra:  # local-only credentials: safe to print
            exports = {
                **emulators.client_env(service, es),
                "OUTPUT_FS": emulators.output_fs(service, es),
            }
            print(f"{service}: export " + " ".join(f"{k}={v}" for k, v in exports.items()))
        return 0 if all(st.healthy for st in statuses) else 1
    if args.action == "down":
        manager.down(settings, purge=args.purge)
        return 0
    if args.action == "status":
        statuses = manager.status(settings, (*services, *extra))
        for st in statuses:
            print(st.line())
        healthy = any(st.healthy for st in statuses if manager.kafka_node(st.service))
        if settings.kafka_brokers > 1 and "kafka" in services and healthy:
            from confluent_kafka import KafkaException

            from superhero_assets.core.contract import SOURCE_TOPICS

            try:
                for line in kafka.leaders(settings, list(SOURCE_TOPICS)):
                    print(f"  {line}")
            except KafkaException as exc:
                print(f"  partition leaders unknown: {exc}")
        return 0 if all(st.healthy for st in statuses) else 1
    # logs
    for service in (*manager.expand(settings, services), *extra):
        print(f"==> {procs.log_path(settings.state_dir, service)} <==")
        print(procs.tail(procs.log_path(settings.state_dir, service), args.lines))
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from superhero_tools.demo import run_demo

    return run_demo(settings)


def version_line() -> str:
    """This package's version and Dagster's, read from the installed metadata (no import)."""
    from importlib.metadata import PackageNotFoundError, version

    def installed(distribution: str) -> str:
        try:
            return version(distribution)
        except PackageNotFoundError:  # run from a checkout that `make venv` did not install
            return "unknown (not installed: run `make venv`)"

    return f"superhero-dataflow {installed('superhero-dataflow')}, dagster {installed('dagster')}"


# Shared by the stack actions that take them; the defaults are what _stack does without them.
ONLY_HELP = "comma-separated subset of: redis,kafka (default: both)"
BROKERS_HELP = (
    "Kafka nodes on this machine; from 3, topics get 3 replicas with min.insync.replicas=2, "
    "so losing one node loses nothing (default: SUPERHERO_KAFKA_BROKERS, else 1)"
)


def brokers(text: str) -> int:
    n = int(text)
    if not 1 <= n <= MAX_KAFKA_BROKERS:
        raise argparse.ArgumentTypeError(f"--brokers takes 1 to {MAX_KAFKA_BROKERS}, got {n}")
    return n


WITH_HELP = "also local object stores, comma-separated: s3,gcs,azure (default: none)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="superhero", description=__doc__)
    parser.add_argument("--version", action="version", version=version_line())
    sub = parser.add_subparsers(dest="command", required=True)

    stack = sub.add_parser(
        "stack",
        help="start, stop and inspect the local Kafka and Redis",
        description="The local stack's processes and their state live in SUPERHERO_STATE_DIR "
        "(default: .superhero); their ports come from KAFKA_BOOTSTRAP_SERVERS, "
        "KAFKA_CONTROLLER_PORT and REDIS_PORT.",
    )
    actions = stack.add_subparsers(dest="action", required=True)
    up = actions.add_parser("up", help="start what is not running and wait until usable")
    up.add_argument("--only", metavar="SERVICES", help=ONLY_HELP)
    up.add_argument("--with", dest="with_", metavar="STORES", help=WITH_HELP)
    up.add_argument("--brokers", type=brokers, metavar="N", help=BROKERS_HELP)
    down = actions.add_parser("down", help="stop the processes `up` started")
    down.add_argument(
        "--purge",
        action="store_true",
        help="also delete the state folder, SUPERHERO_STATE_DIR (default: keep it)",
    )
    status = actions.add_parser("status", help="each service's address, PID and health")
    status.add_argument("--only", metavar="SERVICES", help=ONLY_HELP)
    status.add_argument("--with", dest="with_", metavar="STORES", help=WITH_HELP)
    status.add_argument("--brokers", type=brokers, metavar="N", help=BROKERS_HELP)
    logs = actions.add_parser("logs", help="the last lines of each service's log")
    logs.add_argument("--only", metavar="SERVICES", help=ONLY_HELP)
    logs.add_argument("--with", dest="with_", metavar="STORES", help=WITH_HELP)
    logs.add_argument("--brokers", type=brokers, metavar="N", help=BROKERS_HELP)
    logs.add_argument("-n", "--lines", type=int, default=40, help="lines per log (default: 40)")
    stack.set_defaults(handler=_stack)

    from superhero_assets.cli import elt, lag, output
    from superhero_tools import bench, devserver, worker
    from superhero_tools.chaos.cli import register as register_chaos

    elt.register(sub)
    elt.register_freshness(sub)
    lag.register(sub)
    output.register(sub)
    devserver.register(sub)
    worker.register(sub)
    register_chaos(sub)
    bench.register(sub)

    demo = sub.add_parser(
        "demo",
        help="the main job end to end: stack, simulate, materialize, print the tables",
        description="Starts the stack (see `superhero stack --help`), sends 10000 simulated "
        "records to Kafka, runs `dagster asset materialize` on every asset and prints each "
        "table's rows and location. The tables go to OUTPUT_FS (default: ./data), Dagster's "
        "runs to DAGSTER_HOME (default: {SUPERHERO_STATE_DIR}/dagster_home). It takes no "
        "options.",
    )
    demo.set_defaults(handler=_demo)

    from superhero_tools.simulator.cli import register as register_simulator

    register_simulator(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    import os

    from superhero_assets.core.names import absolute_output_fs

    # Every process a command starts inherits the output as the user meant it, from here.
    os.environ["OUTPUT_FS"] = absolute_output_fs(os.environ.get("OUTPUT_FS", ""))
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        return args.handler(args, settings)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from superhero_assets.cli.errors import user_error

        message = str(exc) if isinstance(exc, StackError) else user_error(exc)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
