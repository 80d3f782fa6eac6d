"""Matchmaking, lobbies and turns in the server's Registry: pure logic, no network."""

from __future__ import annotations

import logging
import random

import pytest

from superhero_tools.simulator import lobby, wire
from superhero_tools.simulator.lobby import LobbyError, Registry
from superhero_tools.simulator.roster import load_roster
from tests.support.simulator_fixtures import check_matches, check_value


def registry(seed: int = 0) -> Registry:
    return Registry(load_roster(), random.Random(seed), clock=lambda: 1693577587.0)


def as_values(events: list[lobby.LogEvent]) -> list[tuple[str, str]]:
    """The events as the Kafka handler would write them."""
    stamps = iter(f"2023-09-01T10:03:07.{i:06d}" for i in range(10**6))
    return [
        (
            e.topic,
            wire.record(
                logging.getLevelName(e.level), next(stamps), f"kafka.{e.topic}", e.message, e.task
            ),
        )
        for e in events
    ]


def test_login_gives_each_user_one_token():
    r = registry()
    assert r.login("ann") == r.login("ann") != r.login("bob")


def test_players_asking_for_the_same_size_share_a_game_with_unique_heroes():
    r = registry()
    users = [r.login(name) for name in "abcdef"]
    games = [r.find(u, 3)[0] for u in users]
    assert games[0] is games[1] is games[2] and games[3] is games[4] is games[5]
    assert games[0] is not games[3]
    for game in (games[0], games[3]):
        assert len({h.id for h in game.heroes.values()}) == 3
    assert r.find(r.login("g"), 2)[0] not in games  # another size, another game


def test_find_refuses_unknown_users_and_impossible_sizes():
    r = registry()
    with pytest.raises(LobbyError, match="UNKNOWN USER TOKEN"):
        r.find("nobody", 2)
    for size in (1, 49):
        with pytest.raises(LobbyError, match="PARTICIPANTS MUST BE BETWEEN 2 AND 48"):
            r.find(r.login("a"), size)


def test_a_full_lobby_starts_once_and_logs_one_start_per_player():
    r = registry()
    users = [r.login(name) for name in "abc"]
    game = r.find(users[0], 3)[0]
    for u in users[1:]:
        r.find(u, 3)
    assert r.enter_lobby(game, users[0]) == [] and r.enter_lobby(game, users[1]) == []
    events = r.enter_lobby(game, users[2])
    assert [e.message for e in events] == ["Starting Match"] * 3
    assert game.status == lobby.IN_PROGRESS and game.match.order == tuple(sorted(users))


def test_a_whole_match_logs_consistent_records_and_is_then_forgotten():
    r = registry(seed=4)
    users = [r.login(name) for name in "abc"]
    game = r.find(users[0], 3)[0]
    for u in users[1:]:
        r.find(u, 3)
    events = [e for u in users for e in r.enter_lobby(game, u)]
    rng = random.Random(1)
    while game.status == lobby.IN_PROGRESS:
        player = game.match.whose_turn
        with pytest.raises(LobbyError, match="NOT USER'S TURN"):
            r.act(game, next(u for u in users if u != player), None)
        dead = [t for t, f in game.match.fighters.items() if t != player and f.health == 0]
        target = rng.choice(dead) if dead and rng.random() < 0.5 else None
        events += r.act(game, player, target)[1]
    assert game.status == lobby.COMPLETE and game.token not in r.games
    checked = [check_value(topic, value) for topic, value in as_values(events)]
    summary = check_matches(checked)[game.token]
    assert summary["complete"] and summary["players"] == 3
    assert [e.message for e in events].count("Cleaning Game Records") == 3
    with pytest.raises(LobbyError, match="UNKNOWN GAME TOKEN"):
        r.game_of(game.token, users[0])


def test_attacking_a_dead_enemy_is_logged_as_an_error():
    r = registry(seed=2)
    users = [r.login(name) for name in "abc"]
    game = r.find(users[0], 3)[0]
    for u in users[1:]:
        r.find(u, 3)
    for u in users:
        r.enter_lobby(game, u)
    while not any(f.health == 0 for f in game.match.fighters.values()):
        r.act(game, game.match.whose_turn, None)
    if game.status != lobby.IN_PROGRESS:
        pytest.skip("this seed ended the match at the first death")
    player = game.match.whose_turn
    corpse = next(t for t, f in game.match.fighters.items() if f.health == 0)
    task, events = r.act(game, player, corpse)
    assert [(e.level, e.message) for e in events] == [(logging.ERROR, "Attacked Dead Enemy")]
    assert '"ENEMY_STATUS": "DEAD"' in task


def test_a_lobby_that_does_not_fill_times_out_for_every_player():
    r = registry()
    a, b = r.login("a"), r.login("b")
    game = r.find(a, 3)[0]
    r.find(b, 3)
    r.enter_lobby(game, a)
    events = r.time_out(game)
    assert [e.message for e in events] == ["Game Timed Out"] * 2 + ["Cleaning Game Records"] * 2
    assert game.status == lobby.TIMED_OUT and r.time_out(game) == []
    check_matches([check_value(t, v) for t, v in as_values(events)])


def test_players_who_left_mid_match_are_played_by_the_server():
    r = registry(seed=9)
    a, b = r.login("a"), r.login("b")
    game = r.find(a, 2)[0]
    r.find(b, 2)
    events = r.enter_lobby(game, a) + r.enter_lobby(game, b)
    game.present.clear()  # both connections closed
    events += r.autoplay(game)
    assert game.status == lobby.COMPLETE
    assert check_matches([check_value(t, v) for t, v in as_values(events)])[game.token]["complete"]
