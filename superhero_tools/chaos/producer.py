"""The chaos run's producer: the simulator's matches plus a known share of bad messages.

It writes into the chaos run's own topics (the simulator's `emit` callback maps the topic
names), at a steady rate, until SIGTERM. Every message the broker acknowledges is recorded,
with its partition, offset and bytes, as one JSON line of the ledger, so the reconciliation
knows exactly what was produced. Run as `python -m superhero_tools.chaos.producer ...`.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import random
import signal
import sys
import time
from typing import IO

from confluent_kafka import Producer

from superhero_tools.simulator import bulk, wire
from superhero_tools.simulator.kafka_log import NO_LOSS
from superhero_tools.simulator.roster import load_roster

# Content the loader must quarantine (each with its own reason), never load.
BAD_VALUES = (
    b"not json",
    b"\xc3\x28 not utf-8",
    b"[1, 2, 3]",
    b'{"level": "INFO", "name": "kafka.lib.server.game", "log_message": "Attack Completed"}',
)


class _Stop(Exception):
    """SIGTERM arrived: leave the simulator's loop."""


class Ledger:
    """Records each acknowledged message as {"t", "p", "o", "v" (base64), "bad"}."""

    def __init__(self, out: IO[str]) -> None:
        self.out, self.acked, self.failed = out, 0, 0

    def on_delivery(self, error, msg) -> None:
        if error is not None:
            self.failed += 1
            print(f"chaos producer: a message was not acknowledged: {error}", file=sys.stderr)
            return
        self.acked += 1
        value = msg.value() or b""
        line = {
            "t": msg.topic(),
            "p": msg.partition(),
            "o": msg.offset(),
            "v": base64.b64encode(value).decode(),
            "bad": value in BAD_VALUES,
        }
        self.out.write(json.dumps(line) + "\n")


def produce(
    bootstrap: str,
    topics: dict[str, str],
    ledger: Ledger,
    seed: int,
    rate: float,
    bad_rate: float,
    stop: list[bool],
) -> int:
    """Produce until stop[0] is set; returns the messages handed to the client."""
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            **NO_LOSS,
            "linger.ms": 20,
            "on_delivery": ledger.on_delivery,
        }
    )
    parts = {
        t: sorted(producer.list_topics(t, timeout=30).topics[t].partitions) for t in topics.values()
    }
    rng, sent, started = random.Random(seed ^ 0xBAD), [0], time.monotonic()

    def send(topic: str, value: str | bytes) -> None:
        choices = parts[topic]
        while True:
            try:
                producer.produce(topic, value, partition=choices[sent[0] % len(choices)])
                break
            except BufferError:
                producer.poll(0.1)
        sent[0] += 1
        producer.poll(0)
        ahead = started + sent[0] / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)

    def emit(sim_topic: str, value: str) -> None:
        if stop[0]:
            raise _Stop
        topic = topics[sim_topic]
        if rng.random() < bad_rate:
            send(topic, rng.choice(BAD_VALUES))
        send(topic, value)

    with contextlib.suppress(_Stop):
        bulk.simulate(10**12, seed, load_roster(), emit)
    left = producer.flush(120)
    if left:
        ledger.failed += left
    return sent[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chaos_producer")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--lobby-topic", required=True)
    parser.add_argument("--game-topic", required=True)
    parser.add_argument("--ledger", required=True, help="JSON-lines file of acked messages")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate", type=float, default=300.0, help="messages per second")
    parser.add_argument("--bad-rate", type=float, default=0.003)
    args = parser.parse_args(argv)
    stop = [False]
    signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__(0, True))
    topics = {wire.LOBBY_TOPIC: args.lobby_topic, wire.GAME_TOPIC: args.game_topic}
    with open(args.ledger, "w", encoding="utf-8") as out:
        ledger = Ledger(out)
        sent = produce(args.bootstrap, topics, ledger, args.seed, args.rate, args.bad_rate, stop)
        out.write(json.dumps({"end": True, "sent": sent, "failed": ledger.failed}) + "\n")
    return 1 if ledger.failed else 0


if __name__ == "__main__":
    sys.exit(main())
