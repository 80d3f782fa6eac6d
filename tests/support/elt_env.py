"""An isolated ELT environment on the real test stack: own topics, own Redis keys, own output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import redis
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from fsspec.core import strip_protocol

from superhero_assets.core import contract
from superhero_assets.core.run.pipeline import Loader, LoaderConfig
from superhero_assets.core.store.output_store import OutputStore, storage_options_from_env
from superhero_tools.settings import Settings
from superhero_tools.stack.topics import ensure_topics
from tests.support import wire

CLOUD_PREFIXES = ("AWS_", "AZURE_", "GOOGLE_", "GCP_", "STORAGE_EMULATOR_HOST")


@dataclass
class EltEnv:
    """output is a local folder or an object-store URL; store_env holds that store's variables
    (credentials, endpoint), given to the loader in-process and to `superhero load`."""

    stack: Settings
    lobby: str
    game: str
    output: Path | str
    store_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(
        cls, stack: Settings, output: Path | str, store_env: dict[str, str] | None = None
    ) -> EltEnv:
        tag = uuid.uuid4().hex[:8]
        env = cls(
            stack, f"t{tag}.lib.server.lobby", f"t{tag}.lib.server.game", output, store_env or {}
        )
        ensure_topics(stack.kafka_bootstrap_servers, {env.lobby: 2, env.game: 4})
        return env

    def store(self, **overrides: str) -> OutputStore:
        """The output as the loader sees it, from store_env (plus overrides) alone."""
        env = {**self.store_env, **overrides}
        options, secrets = storage_options_from_env(str(self.output), env)
        if options:
            options = {**options, "skip_instance_cache": True}
        return OutputStore(str(self.output), options, secrets)

    @property
    def topics(self) -> tuple[str, str]:
        return (self.lobby, self.game)

    def deployment_env(self) -> dict[str, str]:
        """The variables a Dagster deployment of this environment sets: its output, topics
        and services, and a lag sensor that asks for a run at once."""
        return {
            "OUTPUT_FS": str(self.output),
            "SUPERHERO_TOPICS": ",".join(self.topics),
            "SENSOR_INTERVAL_S": "2",
            "SENSOR_LAG_THRESHOLD": "1",
            "ELT_LOCK_TTL_S": "60",
            "KAFKA_BOOTSTRAP_SERVERS": self.stack.kafka_bootstrap_servers,
            "REDIS_HOST": self.stack.redis_host,
            "REDIS_PORT": str(self.stack.redis_port),
        }

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
        return Loader(kafka, self.redis(), self.store(), cfg)

    def run(self, **config) -> dict | None:
        loader = self.loader(**config)
        pending = loader.prepare(run_id="test")
        if pending is None:
            return None
        loader.land(pending)
        return loader.commit(pending)

    def cli_load(self, **options) -> subprocess.CompletedProcess:
        """`superhero load` run to its end; options as cli_load_command takes them."""
        argv, env = self.cli_load_command(**options)
        return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)

    def cli_load_command(
        self,
        kill_at: str | None = None,
        lock_ttl: int = 2,
        chunk_messages: int = 100_000,
        extra_env: dict[str, str] | None = None,
        output_fs: str | None = None,
        shard: str | None = None,
    ) -> tuple[list[str], dict[str, str]]:
        """`superhero load` of this environment's topics: its argv and environment."""
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(CLOUD_PREFIXES)},
            **self.store_env,
            **(extra_env or {}),
            "OUTPUT_FS": output_fs or str(self.output),
            "KAFKA_BOOTSTRAP_SERVERS": self.stack.kafka_bootstrap_servers,
            "REDIS_HOST": self.stack.redis_host,
            "REDIS_PORT": str(self.stack.redis_port),
        }
        if kill_at:
            env["SUPERHERO_KILL_AT"] = kill_at
        argv = [
            sys.executable,
            "-m",
            "superhero_tools.cli",
            "load",
            "--topics",
            ",".join(self.topics),
            "--lock-ttl",
            str(lock_ttl),
            "--chunk-messages",
            str(chunk_messages),
            *(["--shard", shard] if shard else []),
        ]
        return argv, env

    def offset_counts(self) -> Counter:
        """How often each (topic, partition, offset) appears in buffer_meta."""
        t = self.table("buffer_meta")
        if not t.num_rows:
            return Counter()
        cols = (t["topic"].to_pylist(), t["partition"].to_pylist(), t["offset"].to_pylist())
        return Counter(zip(*cols, strict=True))

    def assert_exactly_once(self, messages: int) -> None:
        """Every one of `messages` offsets is in buffer_meta, and none twice."""
        seen = self.offset_counts()
        assert len(seen) == messages
        assert max(seen.values()) == 1

    def assert_state_at_watermarks(self) -> None:
        """Redis holds, for every partition, the high watermark's last offset and the number
        of its messages in buffer_meta: nothing behind, nothing ahead."""
        from confluent_kafka import Consumer, TopicPartition

        seen = Counter((t, p) for t, p, _ in self.offset_counts())
        consumer = Consumer(
            {"bootstrap.servers": self.stack.kafka_bootstrap_servers, "group.id": "watermarks"}
        )
        try:
            for topic in self.topics:
                last = json.loads(self.redis().get(contract.last_offset_key(topic)))
                counts = json.loads(self.redis().get(contract.counts_key(topic)))
                for p in consumer.list_topics(topic, timeout=10).topics[topic].partitions:
                    high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                    assert last.get(str(p)) == high - 1, (topic, p, last)
                    assert counts.get(str(p)) == seen[(topic, p)], (topic, p, counts)
        finally:
            consumer.close()

    def assert_a_run_with_nothing_new_changes_nothing(self) -> None:
        """After a load, a second run finds nothing: no file rewritten, Redis untouched."""
        files, state = self.files(), self.state()
        assert self.run() is None
        assert self.files() == files
        assert self.state() == state

    def table(self, name: str) -> pa.Table:
        """What a reader globbing {OUTPUT_FS}/{table}/**/*.parquet sees (pyarrow, any store)."""
        store = self.store()
        files = [store.path(p) for p in store.list(name, ".parquet")]
        if not files:
            return pa.table({})
        if store.is_local:
            return pa.concat_tables([pq.read_table(f) for f in files])
        paths = [strip_protocol(f) for f in files]
        dataset = ds.dataset(paths, format="parquet", filesystem=store.pyarrow_filesystem())
        return dataset.to_table()

    def files(self) -> dict[str, object]:
        """{relative path: version} of every file, a version changing whenever it is rewritten."""
        if isinstance(self.output, Path):
            return {
                str(p.relative_to(self.output)): p.stat().st_mtime_ns
                for p in self.output.rglob("*")
                if p.is_file()
            }
        store = self.store()
        versions = {}
        for rel in store.list_all():
            info = store.fs.info(store.path(rel))
            versions[rel] = tuple(
                str(info.get(k))
                for k in ("ETag", "etag", "generation", "LastModified", "last_modified", "size")
            )
        return versions

    def state(self) -> dict[str, bytes | None]:
        r = self.redis()
        keys = [k(t) for t in self.topics for k in (contract.last_offset_key, contract.counts_key)]
        return dict(zip(keys, r.mget(keys), strict=True))

    def cleanup(self) -> None:
        AdminClient({"bootstrap.servers": self.stack.kafka_bootstrap_servers}).delete_topics(
            list(self.topics)
        )
        self.redis().delete(*self.state(), *(contract.binding_key(t) for t in self.topics))
