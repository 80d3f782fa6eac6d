"""Helpers for the simulator tests: a strict wire-format check and a match-consistency check.

The rules are written out again here, independently of the engine, so a bug in the engine
cannot hide itself by also being in the check.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from confluent_kafka import Consumer, TopicPartition

RECORD_KEYS = ["level", "timestamp", "name", "log_message", "task"]
TASK_KEYS = ["TIMESTAMP", "PAYLOAD", "STATUS"]
TOPICS = ("lib.server.lobby", "lib.server.game")
LEVELS = {
    "Starting Match": "INFO",
    "Game Timed Out": "INFO",
    "Cleaning Game Records": "INFO",
    "Attack Completed": "INFO",
    "Attacked Dead Enemy": "ERROR",
}
TOPIC_OF = {
    "Starting Match": "lib.server.lobby",
    "Game Timed Out": "lib.server.lobby",
    "Cleaning Game Records": "lib.server.lobby",
    "Attack Completed": "lib.server.game",
    "Attacked Dead Enemy": "lib.server.game",
}


@dataclass
class Checked:
    """One value that passed the format check, with its task decoded."""

    topic: str
    message: str
    timestamp: str
    task: dict


def _ordered(text: str) -> tuple[object, list[str]]:
    keys: list[str] = []

    def hook(pairs):
        keys.append([k for k, _ in pairs])
        return dict(pairs)

    return json.loads(text, object_pairs_hook=hook), keys[-1]


def check_value(topic: str, raw: bytes | str, module: str = "kafka") -> Checked:
    """Asserts one value has the exact wire format; returns it decoded."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    record, keys = _ordered(text)
    assert keys == RECORD_KEYS, text
    assert json.dumps(record) == text, f"not json.dumps' default separators: {text}"
    message = record["log_message"]
    assert message in LEVELS, text
    assert record["level"] == LEVELS[message], text
    assert topic == TOPIC_OF[message], (topic, text)
    assert record["name"] == f"{module}.{topic}", text
    stamp = record["timestamp"]
    assert len(stamp) == 26 and datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f"), stamp
    if message == "Cleaning Game Records":
        task = record["task"]
        assert isinstance(task, dict) and list(task) == ["game_token", "user_token"], text
        assert all(isinstance(v, str) for v in task.values()), text
        return Checked(topic, message, stamp, task)
    assert isinstance(record["task"], str), f"task must be double-encoded: {text}"
    task, task_keys = _ordered(record["task"])
    assert task_keys == TASK_KEYS and json.dumps(task) == record["task"], text
    assert datetime.strptime(task["TIMESTAMP"], "%Y-%m-%dT%H:%M:%SZ"), text
    _check_task(message, task, text)
    return Checked(topic, message, stamp, task)


def _check_task(message: str, task: dict, text: str) -> None:
    payload, status = task["PAYLOAD"], task["STATUS"]
    if message == "Starting Match":
        assert list(payload) == ["GAME_TOKEN", "PARTICIPANTS", "PARTICIPANTS_HEROS"], text
        assert status == {"GAME": "START"}, text
        assert set(payload["PARTICIPANTS"]) == set(payload["PARTICIPANTS_HEROS"]), text
        for token, hero in payload["PARTICIPANTS_HEROS"].items():
            assert list(hero) == ["token", "id", "attack", "health"] and hero["token"] == token
            assert all(type(hero[k]) is int and hero[k] > 0 for k in ("id", "attack", "health"))
    elif message == "Game Timed Out":
        assert list(payload) == ["GAME_TOKEN"] and status == {"GAME": "TIMED OUT"}, text
    elif message == "Attack Completed":
        assert list(payload) == ["GAME_TOKEN", "USER_TOKEN"], text
        assert list(status) == ["ACTION", "DETAILS"] and status["ACTION"] == "ATTACK", text
        details = status["DETAILS"]
        names = ["ENEMY_TOKEN", "ENEMY_DAMAGE", "ENEMY_HEALTH_PRIOR", "ENEMY_HEALTH_POST"]
        assert list(details) == names, text
        assert all(type(details[n]) is int for n in names[1:]), text
    else:
        assert list(payload) == ["GAME_TOKEN", "USER_TOKEN"], text
        assert status["ACTION"] == "NA", text
        assert status["DETAILS"]["ENEMY_STATUS"] == "DEAD", text


def check_matches(records: list[Checked], require_complete: bool = True) -> dict[str, dict]:
    """Replays every started match by the rules; returns {game token: summary}.

    Checks: N 'Starting Match' copies for N players, unique heroes, turn order (sorted
    tokens, rotating, the dead leaving), damage = attacker's attack, prior = the enemy's
    current health, post = max(prior - damage, 0), exactly one survivor, one cleaning per
    player. `require_complete=False` tolerates a last match cut short (bulk --messages).
    """
    by_game: dict[str, list[Checked]] = defaultdict(list)
    for r in sorted(records, key=lambda r: r.timestamp):
        token = r.task["game_token"] if "game_token" in r.task else r.task["PAYLOAD"]["GAME_TOKEN"]
        by_game[token].append(r)
    summaries = {}
    for game, events in by_game.items():
        starts = [e for e in events if e.message == "Starting Match"]
        if not starts:  # a lobby that timed out: every waiting player told, then cleaned
            timed_out = [e for e in events if e.message == "Game Timed Out"]
            cleaned = [e.task["user_token"] for e in events if e.message.startswith("Cleaning")]
            assert timed_out and len(cleaned) == len(timed_out) == len(set(cleaned)), game
            continue
        summaries[game] = _replay(game, events, starts, require_complete)
    return summaries


def _replay(game: str, events: list[Checked], starts: list[Checked], require_complete: bool):
    payload = starts[0].task["PAYLOAD"]
    heroes = payload["PARTICIPANTS_HEROS"]
    assert all(s.task["PAYLOAD"] == payload for s in starts), game
    assert len(starts) == len(payload["PARTICIPANTS"]) >= 2, f"{game}: one copy per player"
    assert len({h["id"] for h in heroes.values()}) == len(heroes), f"{game}: repeated hero"
    health = {token: hero["health"] for token, hero in heroes.items()}
    order = sorted(health)
    for e in events:
        if e.message not in ("Attack Completed", "Attacked Dead Enemy"):
            continue
        attacker = e.task["PAYLOAD"]["USER_TOKEN"]
        details = e.task["STATUS"]["DETAILS"]
        assert len(order) > 1, f"{game}: an action after the match was over"
        assert attacker == order[0], f"{game}: {attacker} acted out of turn"
        enemy = details["ENEMY_TOKEN"]
        assert enemy in health and enemy != attacker, game
        order = order[1:] + order[:1]
        if e.message == "Attacked Dead Enemy":
            assert health[enemy] == 0, f"{game}: 'dead' enemy {enemy} was alive"
            continue
        assert details["ENEMY_DAMAGE"] == heroes[attacker]["attack"], game
        assert details["ENEMY_HEALTH_PRIOR"] == health[enemy] > 0, game
        assert details["ENEMY_HEALTH_POST"] == max(health[enemy] - details["ENEMY_DAMAGE"], 0)
        health[enemy] = details["ENEMY_HEALTH_POST"]
        if health[enemy] == 0:
            order.remove(enemy)
    cleaned = [e.task["user_token"] for e in events if e.message == "Cleaning Game Records"]
    complete = bool(cleaned)
    if complete or require_complete:
        assert sum(h > 0 for h in health.values()) == 1, f"{game}: not exactly one survivor"
        assert sorted(cleaned) == sorted(health), f"{game}: one cleaning per player"
    return {"players": len(health), "complete": complete, "health": health}


def high_watermarks(bootstrap: str) -> dict[tuple[str, int], int]:
    """The next offset of every partition of both game topics."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "simulator-tests"})
    try:
        marks = {}
        for topic in TOPICS:
            for p in consumer.list_topics(topic, timeout=10).topics[topic].partitions:
                marks[(topic, p)] = consumer.get_watermark_offsets(
                    TopicPartition(topic, p), timeout=10
                )[1]
        return marks
    finally:
        consumer.close()


def consume_since(
    bootstrap: str, since: dict[tuple[str, int], int]
) -> list[tuple[str, int, bytes]]:
    """Every (topic, partition, value) written after `since`, up to the current end."""
    until = high_watermarks(bootstrap)
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "simulator-tests", "enable.auto.commit": False}
    )
    try:
        wanted = {tp: end for tp, end in until.items() if end > since.get(tp, 0)}
        consumer.assign([TopicPartition(t, p, since.get((t, p), 0)) for (t, p) in wanted])
        out: list[tuple[str, int, bytes]] = []
        done = {tp: False for tp in wanted}
        deadline = time.monotonic() + 60
        while not all(done.values()) and time.monotonic() < deadline:
            for m in consumer.consume(10_000, timeout=1):
                assert m.error() is None, m.error()
                assert m.key() is None and not m.headers(), "values must have no key, no headers"
                out.append((m.topic(), m.partition(), m.value()))
                if m.offset() + 1 >= wanted[(m.topic(), m.partition())]:
                    done[(m.topic(), m.partition())] = True
        assert all(done.values()), f"could not read back every partition: {done}"
        return out
    finally:
        consumer.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`superhero server` in a subprocess, stopped with SIGTERM (which flushes Kafka)."""

    def __init__(self, env: dict[str, str]):
        self.port = free_port()
        self.env = {**os.environ, **env, "SERVER_PORT": str(self.port)}
        # Files, not pipes: a chatty server must never block on a full pipe.
        self.out = tempfile.TemporaryFile("w+")  # noqa: SIM115 (lives as long as the server)
        self.err = tempfile.TemporaryFile("w+")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "superhero_tools.cli", "server"],
            env=self.env,
            stdout=self.out,
            stderr=self.err,
            text=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.output()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("the server did not start listening within 30 s")

    def output(self) -> tuple[str, str]:
        self.out.seek(0)
        self.err.seek(0)
        return self.out.read(), self.err.read()

    def stop(self) -> tuple[int, str, str]:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        return (self.proc.returncode, *self.output())
