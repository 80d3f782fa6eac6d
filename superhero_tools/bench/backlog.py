"""The bench's backlog: producing it, checking the tables against it, and cleaning up."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from typing import Any

from superhero_assets.cli.progress import ProgressLine


def produce(
    bootstrap: str,
    lobby: str,
    game: str,
    messages: int,
    seed: int | None,
    line: ProgressLine | None = None,
) -> dict:
    """The bulk simulator's records, renamed to the bench topics; returns what to expect.

    line, if given, follows the records the simulator hands over (every few thousand), then
    shows the count Kafka acknowledged once the producer is flushed.
    """
    from superhero_tools.simulator import bulk, kafka_log, wire
    from superhero_tools.simulator.roster import load_roster

    rename = {wire.LOBBY_TOPIC: lobby, wire.GAME_TOPIC: game}
    sink = kafka_log.KafkaSink(bootstrap, (lobby, game), kafka_log.BULK)
    send = sink.fast_emitter()
    expected = {"messages": 0, lobby: 0, game: 0, "attacks": 0, "participants": 0}
    produced = {"bytes": 0}  # the values are ASCII JSON: characters are bytes

    def emit(topic: str, value: str) -> None:
        topic = rename[topic]
        expected[topic] += 1
        produced["bytes"] += len(value)
        if topic == game:
            if '"Attack Completed"' in value:
                expected["attacks"] += 1
        elif '"Starting Match"' in value:
            task = json.loads(json.loads(value)["task"])
            expected["participants"] += len(task["PAYLOAD"]["PARTICIPANTS"])
        send(topic, value)

    def progress(sent: int) -> None:
        if line is not None:
            line.update_to(sent, produced["bytes"])

    sent = bulk.simulate(messages, seed, load_roster(), emit, progress=progress)
    sink.close()  # raises unless Kafka acknowledged every record
    progress(sent)
    expected["messages"] = sent
    return expected


def reconcile(root: str, expected: dict) -> bool:
    """The tables hold exactly the produced backlog: every offset once, every row accounted."""
    from superhero_assets.core.quality import table_checks
    from superhero_assets.core.store.output_store import OutputStore

    store = OutputStore(root)

    def rows(table: str) -> int:
        return table_checks.row_count(store, store.list(table, ".parquet"))

    n = expected["messages"]
    return all(
        [
            rows("buffer_meta") == n,
            table_checks.duplicate_msg_ids(store, "buffer_meta") == 0,
            rows("raw_messages") == n,
            rows("log_meta") == n,
            rows("quarantine") == 0,
            rows("lib_server_game") == expected["attacks"],
            rows("lib_server_lobby") == expected["participants"],
        ]
    )


def redis_client(db: int | None = None):
    """The offset state's Redis from the environment (REDIS_*), in database db if given."""
    from superhero_assets.core import environment

    env = os.environ if db is None else {**os.environ, "REDIS_DB": str(db)}
    return environment.redis_state(env).client()


def kafka_config(bootstrap: str) -> dict[str, Any]:
    """The environment's Kafka client settings (security, SASL), at the bench's broker."""
    from superhero_assets.core import environment

    return {**environment.kafka().client_config(), "bootstrap.servers": bootstrap}


def delete_keys(client, topics: list[str]) -> None:
    from superhero_assets.core import contract

    keys = [
        key(t)
        for t in topics
        for key in (contract.last_offset_key, contract.counts_key, contract.fence_key)
    ]
    keys += [k for t in topics for k in client.scan_iter(match=contract.lock_pattern(t))]
    client.delete(*keys)


def output_root(output_fs: str | None, tag: str) -> str:
    if output_fs is None:
        return tempfile.mkdtemp(prefix=f"superhero-{tag}-")
    return f"{output_fs.rstrip('/')}/{tag}"


def cleanup(bootstrap: str, topics: list[str], roots: list[str | None]) -> None:
    from confluent_kafka.admin import AdminClient

    from superhero_assets.core.store.output_store import OutputStore

    admin = AdminClient({"bootstrap.servers": bootstrap})  # must outlive its futures
    for future in admin.delete_topics(topics, operation_timeout=30).values():
        with contextlib.suppress(Exception):  # a topic that never got created is fine
            future.result()
    delete_keys(redis_client(), topics)
    for root in roots:
        if root is None:
            continue
        store = OutputStore(root)
        if store.is_local:
            shutil.rmtree(store.root, ignore_errors=True)
        elif store.fs.exists(store.root):
            store.fs.rm(store.root, recursive=True)
