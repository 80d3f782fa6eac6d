"""Build values in the game's exact wire format, for tests of the loader."""

from __future__ import annotations

import json

import pyarrow as pa

from superhero_assets.core import contract

LOCAL_TS = "2023-09-01T10:03:07.512345"
UTC_TS = "2023-09-01T14:03:07Z"


def record(name: str, log_message: str, task, level: str = "INFO", ts: str = LOCAL_TS) -> bytes:
    return json.dumps(
        {
            "level": level,
            "timestamp": ts,
            "name": f"kafka.{name}",
            "log_message": log_message,
            "task": task,
        }
    ).encode()


def record_without_task(log_message: str = "Attack Completed") -> bytes:
    """A record with every field but `task`."""
    return json.dumps(
        {"level": "INFO", "timestamp": LOCAL_TS, "name": "n", "log_message": log_message}
    ).encode()


def starting_match(game: str, heroes: dict[str, tuple[int, int, int]], ts: str = UTC_TS) -> bytes:
    """heroes: user token -> (hero id, attack, health)."""
    task = {
        "TIMESTAMP": ts,
        "PAYLOAD": {
            "GAME_TOKEN": game,
            "PARTICIPANTS": list(heroes),
            "PARTICIPANTS_HEROS": {
                tok: {"token": tok, "id": i, "attack": a, "health": h}
                for tok, (i, a, h) in heroes.items()
            },
        },
        "STATUS": {"GAME": "START"},
    }
    return record("lib.server.lobby", "Starting Match", json.dumps(task))


def attack(game: str, user: str, enemy: str, damage, prior, post, ts: str = UTC_TS) -> bytes:
    task = {
        "TIMESTAMP": ts,
        "PAYLOAD": {"GAME_TOKEN": game, "USER_TOKEN": user},
        "STATUS": {
            "ACTION": "ATTACK",
            "DETAILS": {
                "ENEMY_TOKEN": enemy,
                "ENEMY_DAMAGE": damage,
                "ENEMY_HEALTH_PRIOR": prior,
                "ENEMY_HEALTH_POST": post,
            },
        },
    }
    return record("lib.server.game", "Attack Completed", json.dumps(task))


def dead_enemy(game: str, user: str) -> bytes:
    task = {
        "TIMESTAMP": UTC_TS,
        "PAYLOAD": {"GAME_TOKEN": game, "USER_TOKEN": user},
        "STATUS": {"ACTION": "NA", "DETAILS": {"ENEMY_STATUS": "DEAD"}},
    }
    return record("lib.server.game", "Attacked Dead Enemy", json.dumps(task), level="ERROR")


def cleaning(game: str, user: str) -> bytes:
    return record(
        "lib.server.lobby", "Cleaning Game Records", {"game_token": game, "user_token": user}
    )


def raw_table(
    values: list[bytes | None],
    topic: str = "lib.server.game",
    partition: int = 0,
    first_offset: int = 0,
    keys=None,
    headers=None,
) -> pa.Table:
    n = len(values)
    return pa.table(
        {
            "topic": [topic] * n,
            "partition": [partition] * n,
            "offset": list(range(first_offset, first_offset + n)),
            "timestamp": [1693562587512] * n,
            "timestamp_type": [1] * n,
            "key": keys or [None] * n,
            "headers": headers or [[] for _ in range(n)],
            "value": values,
        },
        schema=contract.RAW_MESSAGES,
    )


def edit_value(value: bytes, old: str, new: str) -> bytes:
    """The value with the first `old` of its JSON text replaced by `new` (e.g. a key twice)."""
    text = value.decode()
    assert old in text, old
    return text.replace(old, new, 1).encode()


def edit_task(value: bytes, old: str, new: str) -> bytes:
    """The same inside the (double-encoded) task's own JSON text."""
    doc = json.loads(value)
    assert old in doc["task"], old
    doc["task"] = doc["task"].replace(old, new, 1)
    return json.dumps(doc).encode()
