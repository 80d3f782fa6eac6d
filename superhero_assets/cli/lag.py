"""`superhero lag`: per partition, the committed offset, the high watermark, the lag and the age
of the oldest unloaded message, like `kafka-consumer-groups --describe` for offsets in Redis.

The offsets and lag come from core/kafka/lag.py, as the lag sensor measures them. Nothing is
committed; the only message read is the first unloaded one of each lagging partition, for its
timestamp.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass

import redis

from superhero_assets.cli import options
from superhero_assets.core.kafka.consume import make_consumer
from superhero_assets.core.kafka.lag import measure, oldest_age_s
from superhero_assets.core.store.output_store import OutputStore

EXIT_UNMEASURABLE = 2  # a partition's lag cannot be given (its stored offset is past the end)


@dataclass(frozen=True)
class LagRow:
    """One line of the report; lag is None when it cannot be measured (error says why)."""

    topic: str
    partition: int
    committed: int | None  # the last loaded offset; None when nothing was loaded
    next_offset: int  # the first offset a run would load
    high: int
    lag: int | None
    oldest_age_s: float | None  # None when nothing waits, or no timestamp could be read
    error: str | None


@dataclass(frozen=True)
class LagReport:
    partitions: list[LagRow]

    @property
    def total_lag(self) -> int:
        return sum(row.lag for row in self.partitions if row.lag is not None)

    @property
    def errors(self) -> list[str]:
        return [row.error for row in self.partitions if row.error]


def register(sub: argparse._SubParsersAction) -> None:
    lag = sub.add_parser(
        "lag",
        help="per partition: committed offset, high watermark, lag, oldest unloaded message age",
        description="Committed offsets come from Redis, or from the output's manifest when the "
        "Redis keys are missing. To give the age of the oldest unloaded message, it reads at "
        "most one message per lagging partition (and commits nothing). Exits 2 when a "
        "partition's lag cannot be measured (its stored offset is past the high watermark).",
    )
    options.add_topics(lag, "the topics to measure")
    options.add_output_fs(lag, "the output whose manifest stands in for missing Redis keys")
    lag.add_argument(
        "--json",
        action="store_true",
        help='print one JSON object {"partitions": [...], "total_lag": N} (default: a table)',
    )
    lag.add_argument(
        "--age-timeout",
        type=float,
        default=5.0,
        help="seconds to wait for each lagging partition's oldest message (default: 5)",
    )
    lag.set_defaults(handler=run_lag)


def run_lag(args: argparse.Namespace, settings) -> int:
    from superhero_assets.core import environment  # the store's clients: only when run

    resources = environment.for_cli(output_fs=args.output_fs)
    report = lag_report(
        resources.kafka.client_config(),
        resources.output.store(),
        args.topics,
        args.age_timeout,
        resources.redis_state.client(),
    )
    print(as_json(report) if args.json else as_table(report))
    return EXIT_UNMEASURABLE if report.errors else 0


def lag_report(
    kafka_config: dict,
    store: OutputStore,
    topics: tuple[str, ...],
    age_timeout_s: float,
    r: redis.Redis,
) -> LagReport:
    consumer = make_consumer(kafka_config)
    try:
        lags = measure(consumer, r, store, topics)
        rows = []
        for p in lags:
            next_committed = p.committed_next
            waiting = p.error is None and p.lag > 0
            rows.append(
                LagRow(
                    topic=p.topic,
                    partition=p.partition,
                    committed=None if next_committed is None else next_committed - 1,
                    next_offset=p.next_offset,
                    high=p.high,
                    lag=None if p.error else p.lag,
                    oldest_age_s=oldest_age_s(consumer, p, age_timeout_s) if waiting else None,
                    error=p.error,
                )
            )
        return LagReport(rows)
    finally:
        consumer.close()


def as_json(report: LagReport) -> str:
    return json.dumps(
        {"partitions": [asdict(row) for row in report.partitions], "total_lag": report.total_lag}
    )


COLUMNS = ("TOPIC", "PARTITION", "COMMITTED", "HIGH", "LAG", "OLDEST_AGE_S")


def as_table(report: LagReport) -> str:
    """Aligned columns ("-": nothing loaded, or nothing waiting), errors spelled out below."""

    def cell(value: object) -> str:
        return "-" if value is None else str(value)

    lines = [
        (
            row.topic,
            str(row.partition),
            cell(row.committed),
            str(row.high),
            "ERROR" if row.error else cell(row.lag),
            cell(row.oldest_age_s),
        )
        for row in report.partitions
    ]
    widths = [max(len(line[i]) for line in (COLUMNS, *lines)) for i in range(len(COLUMNS))]
    out = [
        "  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip()
        for line in (COLUMNS, *lines)
    ]
    unmeasured = f", {len(report.errors)} not measured" if report.errors else ""
    out.append(
        f"total lag: {report.total_lag} messages in {len(report.partitions)} partitions{unmeasured}"
    )
    out += [f"error: {e}" for e in report.errors]
    return "\n".join(out)
