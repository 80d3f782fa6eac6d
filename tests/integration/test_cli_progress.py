"""`superhero load` and `superhero bench` show progress on a terminal, and only there.

The progress line goes to stderr, redrawn in place ("\\r"), at most a few times a second;
piped, or with --no-progress, stderr carries none of it. stdout keeps the command's result.
"""

from __future__ import annotations

import io
import json
import re
import time

import pytest

from superhero_assets.cli.progress import REDRAW_S, ProgressLine
from tests.support import wire
from tests.support.stack import superhero
from tests.support.terminal import superhero_on_a_terminal

# "load: 2,000/25,000 messages 8%  1.2 MB/s  2,345 msg/s  1.0 MB  1s"
LINE = re.compile(
    r"(?P<done>[\d,]+)/(?P<total>[\d,]+) messages (?P<pct>\d+)%  "
    r"(?P<mb_s>[\d,.]+) MB/s  (?P<msg_s>[\d,]+) msg/s  (?P<mb>[\d,.]+) MB  \d+s$"
)
ATTACKS = 25_000  # a batch of the loader's on each of the game topic's 4 partitions


def figures(drawn: str) -> dict[str, float]:
    match = LINE.search(drawn)
    assert match, f"not a progress line: {drawn!r}"
    return {k: float(v.replace(",", "")) for k, v in match.groupdict().items()}


def test_the_line_is_redrawn_a_few_times_a_second_however_many_batches_come():
    stream = io.StringIO()
    started = time.monotonic()
    with ProgressLine("load", stream, total=2_000_000) as line:
        for _ in range(200_000):  # far more batches a second than a person can read
            line.add(10, 5_000)
    elapsed = time.monotonic() - started
    redraws = stream.getvalue().count("\r")
    assert 2 <= redraws <= 2 + elapsed / REDRAW_S + 1, (redraws, elapsed)
    assert stream.getvalue().endswith("\n")
    final = stream.getvalue().split("\r")[-1]
    assert final.startswith("load: 2,000,000/2,000,000 messages 100%  "), final
    assert "  1,000.0 MB  " in final


def produce_attacks(elt) -> int:
    """ATTACKS valid records into the game topic; returns the bytes of their values."""
    values = [wire.attack(f"g{i}", "u0", "u1", 10, 100, 90) for i in range(ATTACKS)]
    elt.produce(elt.game, values, 4)
    return sum(len(v) for v in values)


def load_env(elt) -> dict[str, str]:
    return {
        "OUTPUT_FS": str(elt.output),
        "KAFKA_BOOTSTRAP_SERVERS": elt.stack.kafka_bootstrap_servers,
        "REDIS_HOST": elt.stack.redis_host,
        "REDIS_PORT": str(elt.stack.redis_port),
    }


def load_args(elt, *extra: str) -> tuple[str, ...]:
    return ("load", "--topics", ",".join(elt.topics), *extra)


@pytest.mark.integration
def test_load_draws_messages_and_mb_per_s_in_place_on_a_terminal(elt):
    value_bytes = produce_attacks(elt)
    run = superhero_on_a_terminal(*load_args(elt), env=load_env(elt), timeout=300)
    assert run.returncode == 0, run.terminal
    summary = json.loads(run.stdout)  # stdout holds the result alone
    assert summary["loaded"] == ATTACKS

    drawn = run.redraws("load")
    assert len(drawn) >= 2, run.terminal  # drawn at once, and the final figures
    assert figures(drawn[0])["done"] == 0
    final = figures(drawn[-1])
    assert final["done"] == final["total"] == ATTACKS and final["pct"] == 100
    assert final["mb"] == float(f"{value_bytes / 1e6:.1f}")  # the values' bytes
    assert final["mb_s"] > 0 and final["msg_s"] > 0
    done = [figures(line)["done"] for line in drawn]
    assert done == sorted(done), "the count only goes up"
    # Updated in place: "\r" before each redraw, one newline when done.
    assert run.terminal.count("\rload: ") == len(drawn)
    assert run.terminal.rstrip("\r\n").endswith(drawn[-1] + "\x1b[K")
    # At most one redraw per REDRAW_S, besides the first and the last.
    assert len(drawn) <= 2 + summary["seconds"] / REDRAW_S + 1, drawn


@pytest.mark.integration
def test_load_is_quiet_when_piped_and_with_no_progress(elt):
    produce_attacks(elt)
    piped = superhero(*load_args(elt), env=load_env(elt), timeout=300)
    assert piped.returncode == 0, piped.stderr
    assert json.loads(piped.stdout)["loaded"] == ATTACKS
    assert "load: " not in piped.stderr and "MB/s" not in piped.stderr and "\r" not in piped.stderr

    produce_attacks(elt)
    run = superhero_on_a_terminal(*load_args(elt, "--no-progress"), env=load_env(elt))
    assert run.returncode == 0, run.terminal
    assert json.loads(run.stdout)["loaded"] == ATTACKS
    assert "MB/s" not in run.terminal and "\r" not in run.terminal.replace("\r\n", "\n")


BENCH = ("bench", "--messages", "3000", "--scale", "0", "--no-dagster")
COUNTED_PHASES = ("produce", "ceiling", "load", "ceiling, big read-ahead")


def bench_result(stdout: str) -> dict:
    result = json.loads(stdout)
    assert result["messages"] == 3000 and result["reconciled"] is True, result
    return result


@pytest.mark.integration
def test_bench_shows_each_phase_on_a_terminal(stack):
    run = superhero_on_a_terminal(*BENCH, timeout=600)
    assert run.returncode == 0, run.terminal
    result = bench_result(run.stdout)
    for phase in COUNTED_PHASES:
        drawn = run.redraws(f"bench 3,000: {phase}")
        assert drawn, f"no progress for {phase}:\n{run.terminal}"
        final = figures(drawn[-1])
        assert final["done"] == final["total"] == 3000, (phase, drawn[-1])
        # The bytes the bench reports, as produced, and as each consumer counts them.
        assert final["mb"] == float(f"{result['bytes'] / 1e6:.1f}"), (phase, drawn[-1])
    lines = run.terminal.replace("\r\n", "\n").splitlines()
    for step in ("check the tables against the backlog", "clean up"):
        assert any(re.fullmatch(rf"bench 3,000: {step} \.\.\. [\d.]+s", x) for x in lines), step


@pytest.mark.integration
def test_bench_is_quiet_when_piped_and_with_no_progress(stack):
    piped = superhero(*BENCH, timeout=600)
    assert piped.returncode == 0, piped.stderr
    bench_result(piped.stdout)
    assert "bench 3,000" not in piped.stderr and "\r" not in piped.stderr

    run = superhero_on_a_terminal(*BENCH, "--no-progress", timeout=600)
    assert run.returncode == 0, run.terminal
    bench_result(run.stdout)
    assert "bench 3,000" not in run.terminal, run.terminal
