"""An isolated ELT environment on the real test stack: own topics, own Redis keys, own output."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import redis
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from superhero_assets.core import contract
from superhero_assets.core.pipeline import Loader, LoaderConfig
from superhero_assets.core.settings import Settings
from superhero_assets.core.store import OutputStore
from superhero_assets.stack.topics import ensure_topics
from tests import wire


@dataclass
class EltEnv:
    stack: Settings
    lobby: str
    game: str
    output: Path

    @classmethod
    def create(cls, stack: Settings, output: Path) -> EltEnv:
        tag = uuid.uuid4().hex[:8]
        env = cls(stack, f"t{tag}.lib.server.lobby", f"t{tag}.lib.server.game", output)
        ensure_topics(stack.kafka_bootstrap_servers, {env.lobby: 2, env.game: 4})
        return env

    @property
    def topics(self) -> tuple[str, str]:
        return (self.lobby, self.game)

    def redis(self) -> redis.Redis:
        return redis.Redis(host=self.stack.redis_host, port=self.stack.redis_port)

    def produce(self, topic: str, values: list[bytes | None], partitions: int) -> None:
        producer = Producer(
            {
                "bootstrap.servers": self.stack.kafka_bootstrap_servers,
                "acks": "all",
                "enable.idempotence": True,
            }
        )
        for i, value in enumerate(values):
            producer.produce(topic, value=value, partition=i % partitions)
        assert producer.flush(30) == 0

    def produce_matches(self, matches: int, start: int = 0) -> dict[str, int]:
        """Two- and three-player matches; returns the rows each table should gain."""
        lobby, game, expected = [], [], {"lobby": 0, "game": 0, "messages": 0}
        for m in range(start, start + matches):
            players = 2 + m % 2
            heroes = {f"u{m}-{p}": (p + 1, 10 * (p + 1), 100) for p in range(players)}
            lobby += [wire.starting_match(f"g{m}", heroes)] * players
            expected["lobby"] += players * players
            for turn in range(3):
                game.append(
                    wire.attack(f"g{m}", f"u{m}-0", f"u{m}-1", 10, 100 - 10 * turn, 90 - 10 * turn)
                )
            expected["game"] += 3
            lobby += [wire.cleaning(f"g{m}", tok) for tok in heroes]
        self.produce(self.lobby, lobby, 2)
        self.produce(self.game, game, 4)
        expected["messages"] = len(lobby) + len(game)
        return expected

    def loader(self, **config) -> Loader:
        kafka = {"bootstrap.servers": self.stack.kafka_bootstrap_servers}
        cfg = LoaderConfig(topics=self.topics, **{"lock_ttl_s": 30, **config})
        return Loader(kafka, self.redis(), OutputStore(str(self.output)), cfg)

    def run(self, **config) -> dict | None:
        loader = self.loader(**config)
        pending = loader.prepare(run_id="test")
        if pending is None:
            return None
        loader.land_raw(pending)
        loader.derive_tables(pending)
        return loader.commit(pending)

    def cli_load(
        self, kill_at: str | None = None, lock_ttl: int = 2, chunk_messages: int = 100_000
    ) -> subprocess.CompletedProcess:
        env = {
            **os.environ,
            "OUTPUT_FS": str(self.output),
            "KAFKA_BOOTSTRAP_SERVERS": self.stack.kafka_bootstrap_servers,
            "REDIS_HOST": self.stack.redis_host,
            "REDIS_PORT": str(self.stack.redis_port),
        }
        if kill_at:
            env["SUPERHERO_KILL_AT"] = kill_at
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "superhero_assets.cli",
                "load",
                "--topics",
                ",".join(self.topics),
                "--lock-ttl",
                str(lock_ttl),
                "--chunk-messages",
                str(chunk_messages),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )

    def table(self, name: str) -> pa.Table:
        """What a reader globbing {OUTPUT_FS}/{table}/**/*.parquet sees."""
        files = sorted(self.output.glob(f"{name}/**/*.parquet"))
        if not files:
            return pa.table({})
        return pa.concat_tables([pq.read_table(f) for f in files])

    def files(self) -> dict[str, float]:
        return {
            str(p.relative_to(self.output)): p.stat().st_mtime_ns
            for p in self.output.rglob("*")
            if p.is_file()
        }

    def state(self) -> dict[str, bytes | None]:
        r = self.redis()
        keys = [k(t) for t in self.topics for k in (contract.last_offset_key, contract.counts_key)]
        return dict(zip(keys, r.mget(keys), strict=True))

    def cleanup(self) -> None:
        AdminClient({"bootstrap.servers": self.stack.kafka_bootstrap_servers}).delete_topics(
            list(self.topics)
        )
        self.redis().delete(*self.state())
