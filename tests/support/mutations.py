"""Messages for the parser's tests: good ones the game writes, and seeded mutations of them.

A mutation breaks one thing a rule looks at (a value's type, a timestamp, a key repeated, a
field dropped or the JSON cut short), so the fast path and the full rules must agree on it.
"""

import json
import random
import re

from tests.support import wire

ODD_VALUES = [
    "5",
    5,
    5.5,
    -5,
    0,
    "",
    None,
    True,
    [],
    {},
    10**19 - 1,
    10**19,
    2**64 - 1,
    2**64,
    "1e3",
    "é",
    'a"b',
    "a\\b",
    "a/b",
    "\u2028",
    "x" * 300,
]
ODD_TIMES = [
    "2023-09-01T10:03:07.512345",
    "2023-09-01T10:03:07.512500",
    "1969-12-31T23:59:59.999500",
    "1969-12-31T23:59:59.998500",
    "2023-02-30T10:00:00.000000",
    "2023-09-01T24:00:00.000000",
    "2023-09-01T23:59:60.000000",
    "2023-9-01T10:00:00.000000",
    "2023-09-01T10:03:07.5",
    "2023-09-01T10:03:07",
    "2023-09-01 10:03:07.512345",
    "2023-09-01T10:03:07.512345Z",
    "0000-01-01T00:00:00.000000",
    "2024-02-29T23:59:59.999999",
    "2023-09-01T14:03:07Z",
    "2023-09-01T14:03:07",
    "2023-02-29T14:03:07Z",
    "2023-09-01T14:03:07+00:00",
    " 2023-09-01T14:03:07Z",
    "2023-9-1T14:03:07Z",
    "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59.999499",
    "9999-12-31T23:59:59.999500",
    "0001-01-01T00:00:00.000000",
    "2023-09-01T10:03:07.512345 ",
]
TASK_PATHS = [
    ("TIMESTAMP",),
    ("PAYLOAD", "GAME_TOKEN"),
    ("PAYLOAD", "USER_TOKEN"),
    ("STATUS", "ACTION"),
    ("STATUS", "DETAILS", "ENEMY_TOKEN"),
    ("STATUS", "DETAILS", "ENEMY_DAMAGE"),
    ("STATUS", "DETAILS", "ENEMY_HEALTH_PRIOR"),
    ("STATUS", "DETAILS", "ENEMY_HEALTH_POST"),
]
DROP = object()


def good_messages() -> list[bytes]:
    return [
        wire.attack("g1", "u1", "u2", 26112, 1601600, 1575488),
        wire.attack("g1", "u1", "u2", 0, 10**19 - 1, 10**19 - 1),
        wire.dead_enemy("g1", "u1"),
        wire.record("lib.server.lobby", "Game Timed Out", json.dumps(_timed_out())),
        wire.cleaning("g1", "u1"),
        wire.record("lib.server.game", "Power Up", "anything"),
        wire.starting_match("g1", {"u1": (1, 2, 3), "u2": (4, 5, 6)}),
    ]


def _timed_out() -> dict:
    return {"TIMESTAMP": wire.UTC_TS, "PAYLOAD": {"GAME_TOKEN": "g1"}, "STATUS": {"GAME": "X"}}


def mutate_match(task: dict, odd, rng: random.Random) -> None:
    """One random change of a 'Starting Match' task's participants or heroes."""
    payload = task["PAYLOAD"]
    tokens, heroes = payload["PARTICIPANTS"], payload["PARTICIPANTS_HEROS"]
    token = rng.choice(tokens) if tokens else "u1"
    hero = heroes.get(token) if isinstance(heroes.get(token), dict) else {}
    change = rng.randrange(6)
    if change == 0:
        key = rng.choice(["PARTICIPANTS", "PARTICIPANTS_HEROS"])
        payload.pop(key) if odd is DROP else payload.__setitem__(key, odd)
    elif change == 1:
        tokens.append(token if odd is DROP else odd)  # a repeated or an odd participant
    elif change == 2:
        heroes.pop(token, None) if odd is DROP else heroes.__setitem__(token, odd)
    elif change == 3:
        key = rng.choice(["id", "attack", "health"])
        hero.pop(key, None) if odd is DROP else hero.__setitem__(key, odd)
    elif change == 4:
        hero["id"] = rng.choice([65535, 65536, 0, 99999])
    else:
        tokens.clear() if rng.random() < 0.5 else tokens.__setitem__(0, "t\u00e9" + token)


def mutate(value: bytes, rng: random.Random) -> bytes:
    """One random change of a field of the value or of its task."""
    doc = json.loads(value)
    odd = rng.choice([*ODD_VALUES, *ODD_TIMES, DROP])
    task = doc.get("task")
    if doc.get("log_message") == "Starting Match" and rng.random() < 0.6:
        inner = json.loads(task)
        mutate_match(inner, odd, rng)
        doc["task"] = json.dumps(inner, ensure_ascii=rng.random() < 0.5)
    elif isinstance(task, str) and task.startswith("{") and rng.random() < 0.6:
        inner = json.loads(task)
        path = rng.choice(TASK_PATHS)
        node = inner
        for key in path[:-1]:
            node = node.setdefault(key, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node.pop(path[-1], None) if odd is DROP else node.__setitem__(path[-1], odd)
        doc["task"] = json.dumps(inner, ensure_ascii=rng.random() < 0.5)
    else:
        field = rng.choice(["level", "timestamp", "name", "log_message", "task"])
        doc.pop(field, None) if odd is DROP else doc.__setitem__(field, odd)
    text = json.dumps(doc, ensure_ascii=rng.random() < 0.5)
    if rng.random() < 0.1:
        text = repeat_a_key(text, rng)
    if rng.random() < 0.05:
        text = text[: rng.randrange(len(text))]  # cut short: not JSON
    return text.encode()


def repeat_a_key(text: str, rng: random.Random) -> str:
    """A member added before one of the value's or the task's: its key twice in an object."""
    key = rng.choice(list(re.finditer(r'(\\?"\w+\\?"): ', text)))
    return text[: key.start()] + key.group(1) + ": 0, " + text[key.start() :]
