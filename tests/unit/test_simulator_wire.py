"""The wire format: the issue's three example values, rebuilt byte for byte."""

from __future__ import annotations

import random
import re
import uuid

from superhero_assets.core import contract
from superhero_tools.simulator import engine, wire
from superhero_tools.simulator.roster import Hero
from tests.support.simulator_fixtures import check_value

GAME = "5f0c6a4e-2d7b-4c61-9a38-0b7f3e1d2c11"
P1 = "8a1d3b52-6e0f-4f7a-b2c4-3d9e5f6a7b80"
P2 = "c3e4f5a6-7b8c-4d9e-8f01-2a3b4c5d6e7f"

# Copied from the issue (tokens illustrative); the simulator must produce exactly these.
EXAMPLE_START = '{"level": "INFO", "timestamp": "2023-09-01T10:03:07.512345", "name": "kafka.lib.server.lobby", "log_message": "Starting Match", "task": "{\\"TIMESTAMP\\": \\"2023-09-01T14:03:07Z\\", \\"PAYLOAD\\": {\\"GAME_TOKEN\\": \\"5f0c6a4e-2d7b-4c61-9a38-0b7f3e1d2c11\\", \\"PARTICIPANTS\\": [\\"8a1d3b52-6e0f-4f7a-b2c4-3d9e5f6a7b80\\", \\"c3e4f5a6-7b8c-4d9e-8f01-2a3b4c5d6e7f\\"], \\"PARTICIPANTS_HEROS\\": {\\"8a1d3b52-6e0f-4f7a-b2c4-3d9e5f6a7b80\\": {\\"token\\": \\"8a1d3b52-6e0f-4f7a-b2c4-3d9e5f6a7b80\\", \\"id\\": 1, \\"attack\\": 26112, \\"health\\": 3040000}, \\"c3e4f5a6-7b8c-4d9e-8f01-2a3b4c5d6e7f\\": {\\"token\\": \\"c3e4f5a6-7b8c-4d9e-8f01-2a3b4c5d6e7f\\", \\"id\\": 2, \\"attack\\": 297500, \\"health\\": 1601600}}}, \\"STATUS\\": {\\"GAME\\": \\"START\\"}}"}'  # noqa: E501
EXAMPLE_ATTACK = '{"level": "INFO", "timestamp": "2023-09-01T10:03:08.104233", "name": "kafka.lib.server.game", "log_message": "Attack Completed", "task": "{\\"TIMESTAMP\\": \\"2023-09-01T14:03:08Z\\", \\"PAYLOAD\\": {\\"GAME_TOKEN\\": \\"5f0c6a4e-2d7b-4c61-9a38-0b7f3e1d2c11\\", \\"USER_TOKEN\\": \\"8a1d3b52-6e0f-4f7a-b2c4-3d9e5f6a7b80\\"}, \\"STATUS\\": {\\"ACTION\\": \\"ATTACK\\", \\"DETAILS\\": {\\"ENEMY_TOKEN\\": \\"c3e4f5a6-7b8c-4d9e-8f01-2a3b4c5d6e7f\\", \\"ENEMY_DAMAGE\\": 26112, \\"ENEMY_HEALTH_PRIOR\\": 1601600, \\"ENEMY_HEALTH_POST\\": 1575488}}}"}'  # noqa: E501
EXAMPLE_CLEANING = '{"level": "INFO", "timestamp": "2023-09-01T10:03:42.880120", "name": "kafka.lib.server.lobby", "log_message": "Cleaning Game Records", "task": {"game_token": "5f0c6a4e-2d7b-4c61-9a38-0b7f3e1d2c11", "user_token": "8a1d3b52-6e0f-4f7a-b2c4-3d9e5f6a7b80"}}'  # noqa: E501


def example_match() -> engine.Match:
    heroes = {P1: Hero(1, "A", 26112, 3040000), P2: Hero(2, "B", 297500, 1601600)}
    return engine.start_match(GAME, heroes)


def test_the_issue_examples_are_reproduced_byte_for_byte():
    match = example_match()
    start = wire.starting_match_task(match, "2023-09-01T14:03:07Z")
    lobby = "kafka.lib.server.lobby"
    assert wire.record("INFO", "2023-09-01T10:03:07.512345", lobby, "Starting Match", start) == (
        EXAMPLE_START
    )
    _, outcome = engine.attack(match, P1, random.Random(0))
    attack = wire.attack_task(GAME, outcome, "2023-09-01T14:03:08Z")
    game = "kafka.lib.server.game"
    value = wire.record("INFO", "2023-09-01T10:03:08.104233", game, "Attack Completed", attack)
    assert value == EXAMPLE_ATTACK
    cleaning = wire.cleaning_task(GAME, P1)
    value = wire.record(
        "INFO", "2023-09-01T10:03:42.880120", lobby, wire.CLEANING_GAME_RECORDS, cleaning
    )
    assert value == EXAMPLE_CLEANING


def test_the_examples_pass_the_strict_format_check():
    for topic, value in [
        ("lib.server.lobby", EXAMPLE_START),
        ("lib.server.game", EXAMPLE_ATTACK),
        ("lib.server.lobby", EXAMPLE_CLEANING),
    ]:
        check_value(topic, value)


def test_dead_enemy_and_timed_out_tasks_have_the_original_shape():
    dead = wire.dead_enemy_task(GAME, engine.DeadEnemyAttack(P1, P2), "2023-09-01T14:03:08Z")
    value = wire.record(
        "ERROR",
        "2023-09-01T10:03:08.104233",
        "kafka.lib.server.game",
        wire.ATTACKED_DEAD_ENEMY,
        dead,
    )
    checked = check_value("lib.server.game", value)
    assert checked.task["STATUS"] == {
        "ACTION": "NA",
        "DETAILS": {"ENEMY_TOKEN": P2, "ENEMY_STATUS": "DEAD"},
    }
    timed_out = wire.timed_out_task(GAME, "2023-09-01T14:03:08Z")
    value = wire.record(
        "INFO",
        "2023-09-01T10:03:08.104233",
        "kafka.lib.server.lobby",
        wire.GAME_TIMED_OUT,
        timed_out,
    )
    assert check_value("lib.server.lobby", value).task["STATUS"] == {"GAME": "TIMED OUT"}


def test_the_fast_builders_equal_the_reference_builders():
    rng = random.Random(5)
    for _ in range(200):
        game, user, enemy = (str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in "123")
        prior = rng.randint(1, 10**7)
        damage = rng.randint(1, 10**6)
        outcome = engine.Attack(user, enemy, damage, prior, max(prior - damage, 0))
        stamp = wire.utc_stamp(rng.randint(0, 2 * 10**9))
        reference = wire.attack_task(game, outcome, stamp)
        fast = wire.fast_attack_task(game, user, enemy, damage, prior, outcome.post, stamp)
        assert fast == reference
        head, middle = wire.record_prefixes("INFO", "kafka.lib.server.game", "Attack Completed")
        local = wire.local_stamp(rng.random() * 2 * 10**9)
        assert f"{head}{local}{middle}{wire.json.dumps(fast)}}}" == wire.record(
            "INFO", local, "kafka.lib.server.game", "Attack Completed", reference
        )


def test_timestamps_have_the_documented_formats():
    assert wire.utc_stamp(1693577587.5) == "2023-09-01T14:13:07Z"
    local = wire.local_stamp(1693577587.000001)
    assert len(local) == 26 and local.endswith(".000001")
    assert wire.local_stamp(1693577587.0).endswith(".000000")  # microseconds always shown
    # The shapes the loader accepts, from the same contract.
    assert re.fullmatch(contract.LOCAL_TIMESTAMP_SHAPE, local)
    assert re.fullmatch(contract.TASK_TIMESTAMP_SHAPE, wire.utc_stamp(1693577587.5))
