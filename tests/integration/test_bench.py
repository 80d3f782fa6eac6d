"""`superhero bench` against the real stack: its tables reconcile exactly with the backlog.

No test asserts a time: the benchmark reports figures, the tests check what it loaded.
"""

import json
import time
import zlib
from collections import Counter

import pyarrow.parquet as pq
import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from superhero_tools import bench

pytestmark = pytest.mark.integration


def backlog(bootstrap: str, topics: list[str]) -> list[tuple[str, int, int, bytes]]:
    """Every message of the bench topics, read back with a plain consumer."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-test"})
    out = []
    try:
        for topic in topics:
            for p in sorted(consumer.list_topics(topic, timeout=10).topics[topic].partitions):
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                consumer.assign([TopicPartition(topic, p, low)])
                last, deadline = low - 1, time.monotonic() + 60
                while last < high - 1 and time.monotonic() < deadline:
                    for m in consumer.consume(1000, timeout=1):
                        out.append((m.topic(), m.partition(), m.offset(), m.value()))
                        last = m.offset()
    finally:
        consumer.close()
    return out


def expected_rows(messages):
    """What each table must hold, computed from the wire format in plain Python."""
    buffer_meta, log_meta, lobby, game = Counter(), Counter(), Counter(), Counter()
    for topic, partition, offset, value in messages:
        msg_id = f"{topic}:{partition}:{offset}"
        buffer_meta[(msg_id, offset, partition, f"{zlib.crc32(value):08x}")] += 1
        doc = json.loads(value)
        log_meta[(msg_id, doc["level"], doc["name"], doc["log_message"])] += 1
        if doc["log_message"] == "Attack Completed":
            task = json.loads(doc["task"])
            d = task["STATUS"]["DETAILS"]
            game[
                (
                    msg_id,
                    task["PAYLOAD"]["GAME_TOKEN"],
                    task["PAYLOAD"]["USER_TOKEN"],
                    task["STATUS"]["ACTION"],
                    d["ENEMY_TOKEN"],
                    d["ENEMY_DAMAGE"],
                    d["ENEMY_HEALTH_PRIOR"],
                    d["ENEMY_HEALTH_POST"],
                )
            ] += 1
        elif doc["log_message"] == "Starting Match":
            task = json.loads(doc["task"])
            heroes = task["PAYLOAD"]["PARTICIPANTS_HEROS"]
            for user in task["PAYLOAD"]["PARTICIPANTS"]:
                h = heroes[user]
                lobby[
                    (msg_id, task["PAYLOAD"]["GAME_TOKEN"], user, h["id"], h["attack"], h["health"])
                ] += 1
    return {"buffer_meta": buffer_meta, "log_meta": log_meta, "lobby": lobby, "game": game}


def table(root: str, name: str, columns: list[str]) -> Counter:
    from pathlib import Path

    rows = Counter()
    for f in sorted(Path(root).glob(f"{name}/**/*.parquet")):
        t = pq.read_table(f, columns=columns)
        rows.update(zip(*(t[c].to_pylist() for c in columns), strict=True))
    return rows


def test_the_bench_tables_reconcile_exactly_with_the_produced_backlog(stack, tmp_path):
    bootstrap = stack.kafka_bootstrap_servers
    result = bench.run_once(
        bootstrap,
        5_000,
        None,
        str(tmp_path),
        seed=7,
        loader={"chunk_messages": 1_500, "return_memory": True},
        dagster=False,
        keep=True,
    )
    try:
        assert result["reconciled"] is True
        messages = backlog(bootstrap, result["topics"])
        assert len(messages) == result["messages"] == 5_000
        assert len({m[:3] for m in messages}) == 5_000
        want = expected_rows(messages)
        root = result["output_root"]
        assert table(root, "quarantine", ["msg_id"]) == Counter()
        bm = ["msg_id", "offset", "partition", "checksum"]
        assert table(root, "buffer_meta", bm) == want["buffer_meta"]
        lm = ["msg_id", "level", "name", "log_message"]
        assert table(root, "log_meta", lm) == want["log_meta"]
        game = ["msg_id", "game_token", "user_token", "action", "enemy_token"]
        game += ["enemy_damage", "enemy_health_prior", "enemy_health_post"]
        assert table(root, "lib_server_game", game) == want["game"]
        lobby = ["msg_id", "game_token", "user_token", "superhero_id"]
        lobby += ["superhero_attack", "superhero_health"]
        assert table(root, "lib_server_lobby", lobby) == want["lobby"]
        assert sum(want["lobby"].values()) > 0 and sum(want["game"].values()) > 0
        raw = table(root, "raw_messages", ["topic", "partition", "offset", "value"])
        assert raw == Counter(messages)
    finally:
        bench.cleanup(bootstrap, result["topics"], [result["output_root"]])


def bench_topics(bootstrap: str) -> set[str]:
    topics = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics
    return {t for t in topics if t.startswith("bench-")}


def test_the_bench_prints_the_documented_figures(stack, tmp_path):
    before = bench_topics(stack.kafka_bootstrap_servers)
    result = bench.run_bench(
        stack.kafka_bootstrap_servers, 3_000, output_fs=str(tmp_path), scale=2, dagster=True
    )
    assert list(result) == list(bench.RESULT_KEYS)
    json.dumps(result)  # one JSON object
    assert result["messages"] == 3_000 and result["reconciled"] is True
    assert result["bytes"] > 0 and result["ratio"] > 0
    assert result["ceiling_msg_per_s"] > 0 and result["product_msg_per_s"] > 0
    assert result["peak_rss_mb"] > 0 and result["cpu_s_per_million"] > 0
    assert set(result["output_bytes"]) == {
        "raw_messages",
        "etl_meta",
        "buffer_meta",
        "log_meta",
        "lib_server_lobby",
        "lib_server_game",
        "quarantine",
    }
    assert result["nothing_to_do_s"] >= 0 and result["dagster_cli_s"] > 0
    assert result["scaled"]["messages"] == 6_000 and result["scaled"]["reconciled"] is True
    assert "peak_rss_change_pct" in result["scaled"]
    # Nothing is left behind: no topic, no output folder.
    deadline = time.monotonic() + 30  # deleting a topic takes the broker a moment
    while not bench_topics(stack.kafka_bootstrap_servers) <= before:
        assert time.monotonic() < deadline, "the bench left its topics behind"
        time.sleep(0.5)
    assert not list(tmp_path.iterdir())


def test_the_shard_bench_loads_one_backlog_once_per_shard_count(stack, tmp_path):
    from superhero_tools.bench.shards import run_shard_bench

    result = run_shard_bench(
        stack.kafka_bootstrap_servers,
        3_000,
        [2],
        partitions=2,
        output_fs=str(tmp_path),
        seed=7,
        loader={"chunk_messages": 1_000},
    )
    assert result["reconciled"] is True and set(result["shards"]) == {"1", "2"}
    for n, figures in result["shards"].items():
        # Every shard process loaded its partitions, and together they loaded the backlog
        # (reconciled: every offset once in that N's own output).
        assert len(figures["messages_per_shard"]) == int(n)
        assert sum(figures["messages_per_shard"]) == result["messages"]
        assert all(m > 0 for m in figures["messages_per_shard"])
        assert len(figures["peak_rss_mb_per_shard"]) == int(n)
        assert figures["msg_per_s"] > 0 and figures["cpu_s_per_million"] > 0
    assert result["shards"]["1"]["cpu_change_pct"] == 0
    assert not list(tmp_path.iterdir())
