"""`superhero`: the project's command line (stack, demo; later issues add more)."""

from __future__ import annotations

import argparse
import sys
import time

from superhero_assets.core.settings import Settings
from superhero_assets.stack import StackError


def _stack(args: argparse.Namespace, settings: Settings) -> int:
    from superhero_assets.stack import manager, procs

    services = tuple(args.only.split(",")) if getattr(args, "only", None) else manager.SERVICES
    unknown = set(services) - set(manager.SERVICES)
    if unknown:
        raise StackError(f"unknown service(s) {sorted(unknown)}; choose from {manager.SERVICES}")
    if args.action == "up":
        t0 = time.monotonic()
        statuses = manager.up(settings, services)
        for st in statuses:
            print(st.line())
        print(f"stack ready in {time.monotonic() - t0:.1f}s (state: {settings.state_dir})")
        return 0 if all(st.healthy for st in statuses) else 1
    if args.action == "down":
        manager.down(settings, purge=args.purge)
        return 0
    if args.action == "status":
        statuses = manager.status(settings, services)
        for st in statuses:
            print(st.line())
        return 0 if all(st.healthy for st in statuses) else 1
    # logs
    for service in services:
        print(f"==> {procs.log_path(settings.state_dir, service)} <==")
        print(procs.tail(procs.log_path(settings.state_dir, service), args.lines))
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from superhero_assets.demo import run_demo

    return run_demo(settings)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="superhero", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    stack = sub.add_parser("stack", help="start, stop and inspect the local Kafka and Redis")
    actions = stack.add_subparsers(dest="action", required=True)
    up = actions.add_parser("up", help="start what is not running and wait until usable")
    up.add_argument("--only", help="comma-separated subset of: redis,kafka")
    down = actions.add_parser("down", help="stop the processes `up` started")
    down.add_argument("--purge", action="store_true", help="also delete the state folder")
    status = actions.add_parser("status", help="each service's address, PID and health")
    status.add_argument("--only", help="comma-separated subset of: redis,kafka")
    logs = actions.add_parser("logs", help="the last lines of each service's log")
    logs.add_argument("--only", help="comma-separated subset of: redis,kafka")
    logs.add_argument("-n", "--lines", type=int, default=40)
    stack.set_defaults(handler=_stack)

    from superhero_assets import elt_cli

    elt_cli.register(sub)

    from superhero_assets import bench

    bench.register(sub)

    demo = sub.add_parser("demo", help="the main job end to end (for now: stack + round trip)")
    demo.set_defaults(handler=_demo)

    from superhero_assets.simulator.cli import register as register_simulator

    register_simulator(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        return args.handler(args, settings)
    except (StackError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
