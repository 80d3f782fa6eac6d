"""The log stream's wire format, exactly as the original game wrote it.

A value is JSON with keys level, timestamp (local ISO, microseconds), name, log_message and
task. `task` is itself a JSON string (double-encoded), except for 'Cleaning Game Records',
whose task is a plain object. Separators are json.dumps' defaults: ", " and ": ".
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from superhero_assets.core import contract
from superhero_tools.simulator.engine import Attack, DeadEnemyAttack, Match

# The names the loader reads, from the product's contract, as the simulator's modules use them.
LOBBY_TOPIC = contract.LOBBY_TOPIC
GAME_TOPIC = contract.GAME_TOPIC
STARTING_MATCH = contract.STARTING_MATCH
GAME_TIMED_OUT = contract.GAME_TIMED_OUT
CLEANING_GAME_RECORDS = contract.CLEANING_GAME_RECORDS
ATTACK_COMPLETED = contract.ATTACK_COMPLETED
ATTACKED_DEAD_ENEMY = contract.ATTACKED_DEAD_ENEMY


def utc_stamp(epoch_s: float) -> str:
    """The task's TIMESTAMP: UTC to the second."""
    return datetime.fromtimestamp(epoch_s, UTC).strftime(contract.TASK_TIMESTAMP_FORMAT)


def local_stamp(epoch_s: float) -> str:
    """The record's timestamp: local time, ISO format with microseconds."""
    return datetime.fromtimestamp(epoch_s).strftime(contract.LOCAL_TIMESTAMP_FORMAT)


def task_json(stamp: str, payload: dict, status: dict) -> str:
    return json.dumps({"TIMESTAMP": stamp, "PAYLOAD": payload, "STATUS": status})


def starting_match_task(match: Match, stamp: str) -> str:
    payload = {
        "GAME_TOKEN": match.game_token,
        "PARTICIPANTS": list(match.fighters),
        "PARTICIPANTS_HEROS": {t: f.as_payload() for t, f in match.fighters.items()},
    }
    return task_json(stamp, payload, {"GAME": "START"})


def timed_out_task(game_token: str, stamp: str) -> str:
    return task_json(stamp, {"GAME_TOKEN": game_token}, {"GAME": "TIMED OUT"})


def attack_task(game_token: str, outcome: Attack, stamp: str) -> str:
    details = {
        "ENEMY_TOKEN": outcome.enemy,
        "ENEMY_DAMAGE": outcome.damage,
        "ENEMY_HEALTH_PRIOR": outcome.prior,
        "ENEMY_HEALTH_POST": outcome.post,
    }
    payload = {"GAME_TOKEN": game_token, "USER_TOKEN": outcome.attacker}
    return task_json(stamp, payload, {"ACTION": "ATTACK", "DETAILS": details})


def dead_enemy_task(game_token: str, outcome: DeadEnemyAttack, stamp: str) -> str:
    # The original kept the enemy's token next to ENEMY_STATUS; so do we.
    details = {"ENEMY_TOKEN": outcome.enemy, "ENEMY_STATUS": "DEAD"}
    payload = {"GAME_TOKEN": game_token, "USER_TOKEN": outcome.attacker}
    return task_json(stamp, payload, {"ACTION": "NA", "DETAILS": details})


def cleaning_task(game_token: str, user_token: str) -> dict[str, str]:
    """The one task that is an object, not a string: a quirk of the original."""
    return {"game_token": game_token, "user_token": user_token}


def record(level: str, stamp: str, name: str, log_message: str, task: str | dict) -> str:
    """A whole message value."""
    return json.dumps(
        {"level": level, "timestamp": stamp, "name": name, "log_message": log_message, "task": task}
    )


def record_prefixes(level: str, name: str, log_message: str) -> tuple[str, str]:
    """The constant text around a record's timestamp, for building many values quickly.

    value = head + local_stamp + middle + json.dumps(task) + "}" equals record(...).
    """
    head = '{"level": ' + json.dumps(level) + ', "timestamp": "'
    middle = '", "name": ' + json.dumps(name) + ", "
    middle += '"log_message": ' + json.dumps(log_message) + ', "task": '
    return head, middle


def fast_attack_task(
    game: str, user: str, enemy: str, damage: int, prior: int, post: int, stamp: str
) -> str:
    """attack_task() for tokens that need no JSON escaping (UUIDs), about 5x faster."""
    return (
        f'{{"TIMESTAMP": "{stamp}", "PAYLOAD": {{"GAME_TOKEN": "{game}", "USER_TOKEN": "{user}"}}'
        f', "STATUS": {{"ACTION": "ATTACK", "DETAILS": {{"ENEMY_TOKEN": "{enemy}", '
        f'"ENEMY_DAMAGE": {damage}, "ENEMY_HEALTH_PRIOR": {prior}, '
        f'"ENEMY_HEALTH_POST": {post}}}}}}}'
    )
