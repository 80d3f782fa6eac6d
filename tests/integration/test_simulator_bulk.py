"""Bulk mode: the same engine in-process, reproducible for a seed, and into real Kafka."""

from __future__ import annotations

import logging
from collections import Counter

import pytest

from superhero_tools.simulator import bulk
from superhero_tools.simulator.roster import load_roster
from tests.support.simulator_fixtures import (
    TOPICS,
    check_matches,
    check_value,
    consume_since,
    high_watermarks,
)
from tests.support.stack import superhero
from tests.support.terminal import superhero_on_a_terminal


def run(messages: int, seed: int | None, **kwargs) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    bulk.simulate(messages, seed, load_roster(), lambda t, v: out.append((t, v)), **kwargs)
    return out


def test_the_same_seed_gives_the_same_records_and_another_seed_does_not():
    assert run(3000, 11) == run(3000, 11)
    assert run(3000, 11) != run(3000, 12)


def test_exactly_the_requested_number_of_valid_consistent_records():
    values = run(20_000, 5)
    assert len(values) == 20_000
    checked = [check_value(topic, value) for topic, value in values]
    summaries = check_matches(checked, require_complete=False)
    assert sum(s["complete"] for s in summaries.values()) > 300
    assert sum(not s["complete"] for s in summaries.values()) <= 1  # only the last is cut short
    assert {s["players"] for s in summaries.values()} == {2, 3}
    kinds = Counter(c.message for c in checked)
    assert set(kinds) == {
        "Starting Match",
        "Attack Completed",
        "Attacked Dead Enemy",
        "Game Timed Out",
        "Cleaning Game Records",
    }


def test_log_level_filters_the_bulk_records_too():
    values = run(200, 3, level=logging.ERROR)
    assert len(values) == 200
    assert {check_value(t, v).message for t, v in values} == {"Attacked Dead Enemy"}
    with pytest.raises(ValueError, match="filters every game record"):
        run(10, 3, level=logging.CRITICAL)


def test_logger_module_names_the_loggers():
    topic, value = run(1, 1, module="Default")[0]
    assert check_value(topic, value, module="Default").message == "Starting Match"


@pytest.mark.integration
def test_simulate_produces_to_every_partition_of_both_topics(stack):
    before = high_watermarks(stack.kafka_bootstrap_servers)
    result = superhero(
        "simulate",
        "--messages",
        "20000",
        "--seed",
        "21",
        "--no-progress",
        env={"LOGGER_MODULE": "kafka"},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "20000 records" in result.stderr and "messages/s" in result.stderr
    consumed = consume_since(stack.kafka_bootstrap_servers, before)
    assert len(consumed) == 20_000
    # The summary names the topics, and each count is what Kafka holds now.
    per_topic = Counter(topic for topic, _, _ in consumed)
    partitions = Counter(topic for topic, _ in before)
    assert result.stderr.splitlines()[-3:] == [
        f"sent to Kafka at {stack.kafka_bootstrap_servers} and acknowledged (acks=all):",
        *(
            f"  {topic}: {per_topic[topic]} records over {partitions[topic]} partitions"
            for topic in TOPICS
        ),
    ]
    partitions = {(topic, partition) for topic, partition, _ in consumed}
    assert partitions == set(before), "every partition of both topics gets data"
    assert {topic for topic, _ in partitions} == set(TOPICS)
    # What Kafka holds is exactly what the same seed gives in-process.
    assert Counter((t, v.decode()) for t, _, v in consumed) == Counter(run(20_000, 21))


def test_simulate_says_when_it_only_printed_and_stays_quiet_when_piped():
    env = {"LOGGER_MODULE": "Default"}
    result = superhero("simulate", "--messages", "25", "--seed", "4", env=env)
    assert result.returncode == 0, result.stderr
    # stdout holds exactly the records, as the same seed gives them in-process.
    assert result.stdout.splitlines() == [v for _, v in run(25, 4, module="Default")]
    # stderr is piped: the summary alone, no progress bar, and where the records went.
    first, *rest = result.stderr.splitlines()
    assert first.startswith("25 records in ") and "messages/s, seed 4)" in first, first
    assert rest == [
        "25 records printed only (LOGGER_MODULE=Default); "
        "set LOGGER_MODULE=kafka to send them to Kafka"
    ]


def test_simulate_draws_its_progress_bar_on_a_terminal_only_without_no_progress():
    env = {"LOGGER_MODULE": "Default"}
    shown = superhero_on_a_terminal("simulate", "--messages", "20000", "--seed", "4", env=env)
    assert shown.returncode == 0, shown.terminal
    assert len(shown.stdout.splitlines()) == 20_000
    assert "20.0k/20.0k" in shown.terminal and "msg/s" in shown.terminal, shown.terminal
    assert "20000 records printed only (LOGGER_MODULE=Default)" in shown.terminal

    hidden = superhero_on_a_terminal("simulate", "--messages", "20", "--no-progress", env=env)
    assert hidden.returncode == 0, hidden.terminal
    assert "msg/s" not in hidden.terminal and "20 records printed only" in hidden.terminal
