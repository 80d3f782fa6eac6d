"""Input that a JSON reader or strptime takes but the game never writes, each with the exact
reason it is quarantined for (issue 15). Shared by the unit and the integration tests."""

from __future__ import annotations

from tests.support import wire

ATTACK = wire.attack("g", "a", "b", 5, 20, 15)
MATCH = wire.starting_match("g", {"u1": (1, 2, 3), "u2": (4, 5, 6)})
HEROES = "task.PAYLOAD.PARTICIPANTS_HEROS"

# kind -> (value, the exact reason)
STRICT: dict[str, tuple[bytes, str]] = {
    "log_message twice": (
        wire.edit_value(
            ATTACK,
            '"log_message": "Attack Completed"',
            '"log_message": "Attack Completed", "log_message": "Power Up"',
        ),
        'duplicate key "log_message" in value',
    ),
    "a key twice, once escaped": (
        wire.edit_value(ATTACK, '"level": "INFO"', '"level": "INFO", "lev\\u0065l": "ERROR"'),
        'duplicate key "level" in value',
    ),
    "a key twice in an object task": (
        wire.edit_value(
            wire.cleaning("g", "a"), '"user_token": "a"', '"user_token": "a", "user_token": "b"'
        ),
        'duplicate key "user_token" in value.task',
    ),
    "TIMESTAMP twice": (
        wire.edit_task(
            ATTACK,
            f'"TIMESTAMP": "{wire.UTC_TS}"',
            f'"TIMESTAMP": "{wire.UTC_TS}", "TIMESTAMP": "2023-09-02T14:03:07Z"',
        ),
        'duplicate key "TIMESTAMP" in task',
    ),
    "USER_TOKEN twice": (
        wire.edit_task(ATTACK, '"USER_TOKEN": "a"', '"USER_TOKEN": "a", "USER_TOKEN": "z"'),
        'duplicate key "USER_TOKEN" in task.PAYLOAD',
    ),
    "ACTION twice": (
        wire.edit_task(ATTACK, '"ACTION": "ATTACK"', '"ACTION": "ATTACK", "ACTION": "HEAL"'),
        'duplicate key "ACTION" in task.STATUS',
    ),
    "ENEMY_DAMAGE twice": (
        wire.edit_task(ATTACK, '"ENEMY_DAMAGE": 5', '"ENEMY_DAMAGE": 5, "ENEMY_DAMAGE": 999'),
        'duplicate key "ENEMY_DAMAGE" in task.STATUS.DETAILS',
    ),
    "a hero twice": (
        wire.edit_task(
            MATCH, '"PARTICIPANTS_HEROS": {', '"PARTICIPANTS_HEROS": {"u2": {"id": 9}, '
        ),
        f'duplicate key "u2" in {HEROES}',
    ),
    "a whole hero twice": (
        wire.edit_task(
            MATCH,
            '"PARTICIPANTS_HEROS": {',
            '"PARTICIPANTS_HEROS": {"u1": {"token": "u1", "id": 1, "attack": 2, "health": 3}, ',
        ),
        f'duplicate key "u1" in {HEROES}',
    ),
    "a hero's id twice": (
        wire.edit_task(MATCH, '"id": 1', '"id": 1, "id": 7'),
        f'duplicate key "id" in {HEROES}.u1',
    ),
    "a participant twice": (
        wire.edit_task(MATCH, '"PARTICIPANTS": ["u1", "u2"]', '"PARTICIPANTS": ["u1", "u2", "u1"]'),
        'participant "u1" is in task.PAYLOAD.PARTICIPANTS more than once',
    ),
    "a local time that rounds to year 10000": (
        wire.record("lib.server.game", "Power Up", "x", ts="9999-12-31T23:59:59.999999"),
        'field timestamp "9999-12-31T23:59:59.999999" is outside years 0001 to 9999'
        " once rounded to milliseconds",
    ),
    "a local time in year 0000": (
        wire.edit_value(ATTACK, wire.LOCAL_TS, "0000-06-01T10:03:07.512345"),
        'field timestamp "0000-06-01T10:03:07.512345" is outside years 0001 to 9999'
        " once rounded to milliseconds",
    ),
    "a local time without zero padding": (
        wire.record("lib.server.game", "Power Up", "x", ts="2023-9-01T10:03:07.512345"),
        'field timestamp "2023-9-01T10:03:07.512345" is not local ISO time with microseconds'
        " (YYYY-MM-DDTHH:MM:SS.ffffff)",
    ),
    "a task TIMESTAMP in year 0000": (
        wire.attack("g", "a", "b", 5, 20, 15, ts="0000-09-01T14:03:07Z"),
        'field task.TIMESTAMP "0000-09-01T14:03:07Z" is outside years 0001 to 9999',
    ),
    "a task TIMESTAMP with spaces around": (
        wire.attack("g", "a", "b", 5, 20, 15, ts=f" {wire.UTC_TS} "),
        f'field task.TIMESTAMP " {wire.UTC_TS} " is not UTC time as YYYY-MM-DDTHH:MM:SSZ',
    ),
    "a task TIMESTAMP without zero padding": (
        wire.attack("g", "a", "b", 5, 20, 15, ts="2023-9-1T14:03:07Z"),
        'field task.TIMESTAMP "2023-9-1T14:03:07Z" is not UTC time as YYYY-MM-DDTHH:MM:SSZ',
    ),
}

# The last times that stay in range: they load.
EDGES = [
    wire.record("lib.server.game", "Power Up", "x", ts="9999-12-31T23:59:59.999499"),
    wire.attack("g", "a", "b", 5, 20, 15, ts="9999-12-31T23:59:59Z"),
    wire.record("lib.server.game", "Power Up", "x", ts="0001-01-01T00:00:00.000000"),
    wire.attack("g", "a", "b", 5, 20, 15, ts="0001-01-01T00:00:00Z"),
]
