"""`superhero server`, `superhero players` and `superhero simulate`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from superhero_assets.cli import options
from superhero_tools.settings import Settings
from superhero_tools.simulator.config import SimulatorConfig
from superhero_tools.simulator.roster import DEFAULT_ROSTER, load_roster

if TYPE_CHECKING:
    from superhero_tools.simulator.kafka_log import KafkaSink


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the simulator's subcommands to the `superhero` parser."""
    server = subparsers.add_parser(
        "server",
        help="run the WebSocket game server (Ctrl-C stops)",
        description="Game logs go where LOGGER_MODULE says (default: Default, printed only; "
        "kafka: to KAFKA_BOOTSTRAP_SERVERS), at LOG_LEVEL (default: INFO); a lobby waits "
        "LOBBY_TIMEOUT seconds (default: 5) for its players.",
    )
    _add_roster(server)
    server.add_argument("--host", help="listen address (default: SERVER_HOST, else 127.0.0.1)")
    server.add_argument("--port", type=int, help="listen port (default: SERVER_PORT, else 5678)")
    server.set_defaults(handler=_server)

    players = subparsers.add_parser("players", help="bots that play matches against a server")
    players.add_argument("--count", type=int, default=10, help="how many bots (default: 10)")
    players.add_argument("--games", type=int, default=10, help="games per bot (default: 10)")
    players.add_argument(
        "--seed",
        type=int,
        help="makes the bots' choices repeatable (default: none, different each time)",
    )
    players.add_argument(
        "--misplay-rate",
        type=float,
        default=0.05,
        help="chance a bot attacks an enemy it saw die (default: 0.05)",
    )
    players.add_argument("--host", help="server address (default: SERVER_HOST, else 127.0.0.1)")
    players.add_argument("--port", type=int, help="server port (default: SERVER_PORT, else 5678)")
    players.set_defaults(handler=_players)

    simulate = subparsers.add_parser(
        "simulate",
        help="bulk mode: play matches in-process, fast",
        description="Where the records go is LOGGER_MODULE's choice: Default (the default) "
        "prints them to stdout only; kafka sends them to KAFKA_BOOTSTRAP_SERVERS and waits "
        "until Kafka has acknowledged each. LOG_LEVEL (default: INFO) filters them. The "
        "summary on stderr says which happened, with the counts per topic.",
    )
    simulate.add_argument(
        "--messages", type=int, required=True, help="how many records (required: no default)"
    )
    simulate.add_argument(
        "--seed",
        type=int,
        help="same seed, same records, tokens and times too "
        "(default: none, new records and the wall clock)",
    )
    options.add_no_progress(simulate)
    _add_roster(simulate)
    simulate.set_defaults(handler=_simulate)


def _add_roster(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--roster",
        type=Path,
        default=DEFAULT_ROSTER,
        help="a Super Hero API format file (default: the bundled roster)",
    )


def _server(args: argparse.Namespace, settings: Settings) -> int:
    from superhero_tools.simulator.game_logs import open_game_loggers
    from superhero_tools.simulator.lobby import Registry
    from superhero_tools.simulator.server import GameServer, run_server

    config = SimulatorConfig.from_env()
    host, port = args.host or config.server_host, args.port or config.server_port
    roster = load_roster(args.roster)
    loggers = open_game_loggers(config, settings.kafka_cluster_bootstrap)
    server = GameServer(Registry(roster), loggers, config.lobby_timeout_s)
    kafka = f"Kafka at {settings.kafka_cluster_bootstrap}"
    where = kafka if config.logger_module == "kafka" else "stdout"

    def ready(_server) -> None:
        print(
            f"serving {len(roster)} heroes on ws://{host}:{port} "
            f"(game logs to {where}, LOBBY_TIMEOUT={config.lobby_timeout_s:g}s)",
            file=sys.stderr,
            flush=True,
        )

    async def main() -> None:
        task = asyncio.current_task()
        for signum in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(signum, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await run_server(server, host, port, ready)

    try:
        asyncio.run(main())
    finally:
        loggers.close()  # flushes Kafka: no record is lost on shutdown
        print("server stopped; game logs flushed", file=sys.stderr)
    return 0


def _players(args: argparse.Namespace, settings: Settings) -> int:
    from superhero_tools.simulator.bots import run_bots

    if args.count < 1 or args.games < 1:
        raise ValueError("--count and --games must be at least 1")
    config = SimulatorConfig.from_env()
    host, port = args.host or config.server_host, args.port or config.server_port
    stats = asyncio.run(run_bots(host, port, args.count, args.games, args.seed, args.misplay_rate))
    errors = [error for s in stats for error in s.errors]
    print(
        f"{args.count} bots: {sum(s.games for s in stats)} games joined, "
        f"{sum(s.completed for s in stats)} completed, {sum(s.timed_out for s in stats)} "
        f"timed out, {sum(s.actions for s in stats)} attacks, {len(errors)} bot errors"
    )
    for error in errors:
        print(f"bot error: {error}", file=sys.stderr)
    if any("ConnectionRefused" in error for error in errors):
        print(
            f"no game server at ws://{host}:{port}; start one with `superhero server`",
            file=sys.stderr,
        )
    return 1 if errors else 0


def _simulate(args: argparse.Namespace, settings: Settings) -> int:
    from superhero_assets.cli.progress import wanted
    from superhero_tools.simulator import bulk, kafka_log, wire
    from superhero_tools.simulator.progress import Progress

    if args.messages < 1:
        raise ValueError("--messages must be at least 1")
    config = SimulatorConfig.from_env()
    roster = load_roster(args.roster)
    sink = None
    if config.logger_module == "kafka":
        topics = (wire.LOBBY_TOPIC, wire.GAME_TOPIC)
        sink = kafka_log.KafkaSink(settings.kafka_cluster_bootstrap, topics, kafka_log.BULK)
        emit = sink.fast_emitter()
    else:

        def emit(topic: str, value: str) -> None:
            print(value)

    started = time.monotonic()
    acknowledged = None
    with Progress(args.messages, enabled=wanted(args.no_progress)) as progress:
        sent = bulk.simulate(
            args.messages,
            args.seed,
            roster,
            emit,
            config.logger_module,
            config.log_level_number,
            progress.update_to,
        )
        if sink is not None:
            acknowledged = sink.close()  # every record acknowledged (acks=all) before we report
        progress.update_to(sent)
    elapsed = time.monotonic() - started
    seed = "no seed" if args.seed is None else f"seed {args.seed}"
    print(
        f"{sent} records in {elapsed:.1f}s ({sent / elapsed:,.0f} messages/s, {seed})",
        file=sys.stderr,
    )
    print(where_records_went(sink, acknowledged, sent), file=sys.stderr)
    return 0


def where_records_went(
    sink: KafkaSink | None, acknowledged: dict[str, int] | None, printed: int
) -> str:
    """The summary's last lines: the topics and counts Kafka acknowledged, or print only."""
    if sink is None or acknowledged is None:
        return (
            f"{printed} records printed only (LOGGER_MODULE=Default); "
            "set LOGGER_MODULE=kafka to send them to Kafka"
        )
    lines = [f"sent to Kafka at {sink.bootstrap_servers} and acknowledged (acks=all):"]
    lines += [
        f"  {topic}: {count} records over {sink.partition_count(topic)} partitions"
        for topic, count in acknowledged.items()
    ]
    return "\n".join(lines)
