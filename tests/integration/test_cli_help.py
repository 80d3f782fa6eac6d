"""A CLI that explains itself: `--version`, a default on every option, and `superhero lag`."""

from __future__ import annotations

import argparse
import json
from importlib.metadata import version

import pytest

from superhero_assets.core import contract
from superhero_assets.core.run.state import encode_offsets
from superhero_tools.cli import build_parser
from tests.support.elt_env import EltEnv
from tests.support.stack import superhero

LOBBY_PARTITIONS, GAME_PARTITIONS = 2, 4  # as EltEnv.create makes them


def test_version_names_the_package_and_dagster():
    result = superhero("--version", timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    assert version("superhero-dataflow") in lines[0]
    assert "superhero-dataflow" in lines[0]
    assert f"dagster {version('dagster')}" in lines[0]


def option_entries(help_text: str) -> dict[str, str]:
    """{first flag: its help} of each option in argparse's `options:` section."""
    entries: dict[str, str] = {}
    current = None
    in_options = False
    for line in help_text.splitlines():
        if line.endswith(":") and not line.startswith(" "):  # a section header
            in_options = line == "options:"
            current = None
            continue
        if not in_options or not line.strip():
            continue
        if line.startswith("  -"):
            current = line.split()[0].rstrip(",")
            entries[current] = line
        elif current is not None:
            entries[current] += " " + line.strip()
    return entries


def leaf_commands() -> list[tuple[str, ...]]:
    """Every command `superhero --help` lists, down to the actions of `stack` and `output`."""

    def walk(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> list[tuple[str, ...]]:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            return [path]
        return [leaf for name, sub in subs[0].choices.items() for leaf in walk(sub, (*path, name))]

    return walk(build_parser(), ())


def test_the_commands_checked_are_those_the_help_lists():
    listed = superhero("--help", timeout=60).stdout
    choices = listed[listed.index("{") + 1 : listed.index("}")].split(",")
    assert {command[0] for command in leaf_commands()} == set(choices)
    assert {"bench", "simulate", "dev", "worker", "chaos", "demo"} <= set(choices)


@pytest.mark.parametrize("command", leaf_commands(), ids=" ".join)
def test_every_option_says_its_default(command):
    result = superhero(*command, "--help", timeout=60)
    assert result.returncode == 0, result.stderr
    entries = option_entries(result.stdout)
    entries.pop("-h")
    assert entries or command == ("demo",), result.stdout  # the demo takes no option
    silent = {
        flag: text
        for flag, text in entries.items()
        if "(default: " not in text and "(required: no default)" not in text
    }
    assert not silent, f"options without a default in `superhero {' '.join(command)} --help`"


# The environment variable behind each option whose default comes from one.
ENV_DEFAULTS = {
    ("load",): {
        "--output-fs": "OUTPUT_FS",
        "--topics": "SUPERHERO_TOPICS",
        "--lock-ttl": "ELT_LOCK_TTL_S",
    },
    ("lag",): {"--output-fs": "OUTPUT_FS", "--topics": "SUPERHERO_TOPICS"},
    ("output", "adopt"): {"--output-fs": "OUTPUT_FS", "--topics": "SUPERHERO_TOPICS"},
    ("freshness",): {"--output-fs": "OUTPUT_FS"},
    ("dev",): {"--host": "DAGSTER_WEBSERVER_HOST", "--port": "DAGSTER_WEBSERVER_PORT"},
    ("worker",): {"--channel": "WORKER_CHANNEL"},
    ("chaos",): {
        "--state-dir": "CHAOS_STATE_DIR",
        "--kafka-port": "CHAOS_KAFKA_PORT",
        "--redis-port": "CHAOS_REDIS_PORT",
    },
    ("stack", "up"): {"--brokers": "SUPERHERO_KAFKA_BROKERS"},
    ("stack", "status"): {"--brokers": "SUPERHERO_KAFKA_BROKERS"},
    ("stack", "logs"): {"--brokers": "SUPERHERO_KAFKA_BROKERS"},
    ("server",): {"--host": "SERVER_HOST", "--port": "SERVER_PORT"},
    ("players",): {"--host": "SERVER_HOST", "--port": "SERVER_PORT"},
}


@pytest.mark.parametrize("command", list(ENV_DEFAULTS), ids=" ".join)
def test_the_help_names_the_variable_that_sets_each_default(command):
    entries = option_entries(superhero(*command, "--help", timeout=60).stdout)
    for flag, variable in ENV_DEFAULTS[command].items():
        assert f"(default: {variable}, else " in " ".join(entries[flag].split()), entries[flag]


@pytest.mark.parametrize(
    ("command", "flag", "variable", "value"),
    [
        (("dev",), "--port", "DAGSTER_WEBSERVER_PORT", 3456),
        (("chaos",), "--kafka-port", "CHAOS_KAFKA_PORT", 39392),
        (("chaos",), "--state-dir", "CHAOS_STATE_DIR", "/tmp/elsewhere"),
    ],
)
def test_the_variable_the_help_names_is_the_one_read(command, flag, variable, value, monkeypatch):
    monkeypatch.setenv(variable, str(value))
    args = build_parser().parse_args(list(command))
    assert getattr(args, flag.removeprefix("--").replace("-", "_")) == value


def test_the_help_names_the_environment_variable_behind_a_default():
    load = option_entries(superhero("load", "--help", timeout=60).stdout)
    assert "(default: OUTPUT_FS, else ./data)" in load["--output-fs"]
    assert "(default: ELT_LOCK_TTL_S, else 30)" in load["--lock-ttl"]
    assert "(default: 100000)" in load["--chunk-messages"]
    lag = superhero("lag", "--help", timeout=60).stdout
    assert "at most one message per lagging partition" in " ".join(lag.split())


SHARED_OPTIONS = [("load",), ("lag",), ("output", "adopt")]


@pytest.mark.parametrize("command", [*SHARED_OPTIONS, ("freshness",)], ids=" ".join)
def test_the_output_option_reads_the_same_everywhere(command):
    entry = option_entries(superhero(*command, "--help", timeout=60).stdout)["--output-fs"]
    assert " ".join(entry.split()).endswith(
        "a folder or an s3://, gs:// or az:// URL (default: OUTPUT_FS, else ./data)"
    ), entry


@pytest.mark.parametrize("command", SHARED_OPTIONS, ids=" ".join)
def test_the_topics_option_reads_and_parses_the_same_everywhere(command, monkeypatch):
    entry = option_entries(superhero(*command, "--help", timeout=60).stdout)["--topics"]
    default = ",".join(contract.SOURCE_TOPICS)
    assert " ".join(entry.split()).endswith(
        f"comma-separated, as Dagster reads them (default: SUPERHERO_TOPICS, else {default})"
    ), entry
    monkeypatch.delenv("SUPERHERO_TOPICS", raising=False)  # the default is read here
    parser = build_parser()
    assert parser.parse_args([*command, "--topics", " a.b , c "]).topics == ("a.b", "c")
    assert parser.parse_args(list(command)).topics == contract.SOURCE_TOPICS


def lag(elt: EltEnv, *args: str):
    env = {
        "OUTPUT_FS": str(elt.output),
        "KAFKA_BOOTSTRAP_SERVERS": elt.stack.kafka_bootstrap_servers,
        "REDIS_HOST": elt.stack.redis_host,
        "REDIS_PORT": str(elt.stack.redis_port),
    }
    return superhero("lag", "--topics", ",".join(elt.topics), *args, env=env, timeout=120)


def lag_json(elt: EltEnv) -> tuple[dict[tuple[str, int], dict], int]:
    result = lag(elt, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    rows = {(row["topic"], row["partition"]): row for row in report["partitions"]}
    return rows, report["total_lag"]


def produced_per_partition(values: int, partitions: int) -> dict[int, int]:
    """EltEnv.produce sends value i to partition i % partitions."""
    return {p: len(range(p, values, partitions)) for p in range(partitions)}


def test_lag_counts_every_produced_message_and_none_after_a_load(elt):
    """Fresh topics: the exact lag per partition, nothing committed; after a load: lag 0."""
    matches = 3
    lobby = sum(2 * (2 + m % 2) for m in range(matches))  # a start and a cleaning per player
    game = 3 * matches  # three attacks each
    assert elt.produce_matches(matches)["messages"] == lobby + game
    expected = {
        **{(elt.lobby, p): n for p, n in produced_per_partition(lobby, LOBBY_PARTITIONS).items()},
        **{(elt.game, p): n for p, n in produced_per_partition(game, GAME_PARTITIONS).items()},
    }

    rows, total = lag_json(elt)
    assert {key: row["lag"] for key, row in rows.items()} == expected
    assert total == lobby + game
    for row in rows.values():
        assert row["committed"] is None and row["error"] is None
        assert row["high"] == row["lag"]
        assert 0 <= row["oldest_age_s"] < 120, row

    table = lag(elt)
    assert table.returncode == 0, table.stderr
    header, *body = table.stdout.splitlines()
    assert header.split() == ["TOPIC", "PARTITION", "COMMITTED", "HIGH", "LAG", "OLDEST_AGE_S"]
    assert body[-1] == f"total lag: {lobby + game} messages in 6 partitions"
    assert len(body) == 7
    for column in header.split()[1:]:  # aligned: every value starts under its header
        start = header.index(column)
        for line in body[:-1]:
            assert line[start - 2 : start] == "  " and line[start] != " ", (column, line)

    elt.run()
    rows, total = lag_json(elt)
    assert total == 0
    for key, row in rows.items():
        assert row["lag"] == 0 and row["error"] is None, row
        assert row["committed"] == row["high"] - 1 == expected[key] - 1
        assert row["oldest_age_s"] is None  # nothing waits, nothing was read


def test_lag_recovers_the_committed_offsets_from_the_manifest_without_redis_keys(elt):
    elt.produce_matches(3)
    elt.run()
    elt.produce_matches(1, start=3)
    loaded, _ = lag_json(elt)
    elt.redis().delete(*(contract.last_offset_key(t) for t in elt.topics))
    recovered, total = lag_json(elt)
    assert total > 0
    for key, row in recovered.items():
        assert row["committed"] == loaded[key]["committed"], key
        assert row["lag"] == loaded[key]["lag"], key


def test_an_offset_past_the_high_watermark_is_an_error_never_lag_zero(elt):
    elt.produce(elt.lobby, [b"x"] * 4, LOBBY_PARTITIONS)
    past = {p: 1_000 for p in range(LOBBY_PARTITIONS)}
    elt.redis().set(contract.last_offset_key(elt.lobby), encode_offsets(past))
    elt.redis().set(contract.counts_key(elt.lobby), encode_offsets(past))

    result = lag(elt, "--json")
    assert result.returncode == 2, result.stdout + result.stderr
    report = json.loads(result.stdout)
    broken = [row for row in report["partitions"] if row["topic"] == elt.lobby]
    assert len(broken) == LOBBY_PARTITIONS
    for row in broken:
        assert row["lag"] is None
        assert "past the broker's high watermark" in row["error"]
    assert report["total_lag"] == 0  # the game topic holds nothing yet

    table = lag(elt)
    assert table.returncode == 2
    lobby_lines = [line for line in table.stdout.splitlines() if line.startswith(elt.lobby)]
    assert len(lobby_lines) == LOBBY_PARTITIONS
    assert all(line.split()[4] == "ERROR" for line in lobby_lines)
    assert f"error: {elt.lobby}[0]: the stored offset 1000 is past" in table.stdout
