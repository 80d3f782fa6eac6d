"""The game's rules, as pure functions: no network, randomness from seeded generators."""

from __future__ import annotations

import random

import pytest

from superhero_tools.simulator import engine
from superhero_tools.simulator.engine import Attack, DeadEnemyAttack, RuleError
from superhero_tools.simulator.roster import Hero

A, B, C = "a-token", "b-token", "c-token"


def hero(hero_id: int, attack: int, health: int) -> Hero:
    return Hero(hero_id, f"hero {hero_id}", attack, health)


def test_players_act_in_sorted_token_order():
    match = engine.start_match("g", {C: hero(1, 5, 50), A: hero(2, 5, 50), B: hero(3, 5, 50)})
    assert match.order == (A, B, C)
    assert match.whose_turn == A


def test_attack_deals_the_attackers_attack_and_rotates_the_order():
    match = engine.start_match("g", {A: hero(1, 7, 100), B: hero(2, 3, 100)})
    match, outcome = engine.attack(match, A, random.Random(0))
    assert outcome == Attack(attacker=A, enemy=B, damage=7, prior=100, post=93)
    assert match.fighters[B].health == 93 and match.fighters[A].health == 100
    assert match.order == (B, A)


def test_health_is_clamped_at_zero_and_the_dead_leave_the_order():
    match = engine.start_match("g", {A: hero(1, 500, 100), B: hero(2, 3, 100), C: hero(3, 1, 9)})
    match, outcome = engine.attack(match, A, random.Random(0), target=B)
    assert (outcome.prior, outcome.post) == (100, 0)
    assert match.order == (C, A) and not match.complete
    assert engine.survivors(match) == [A, C]


def test_the_match_is_complete_when_one_hero_is_left():
    match = engine.start_match("g", {A: hero(1, 100, 100), B: hero(2, 1, 100)})
    match, _ = engine.attack(match, A, random.Random(0))
    assert match.complete and match.whose_turn is None
    assert engine.survivors(match) == [A]
    with pytest.raises(RuleError, match="complete"):
        engine.attack(match, A, random.Random(0))


def test_acting_out_of_turn_is_refused():
    match = engine.start_match("g", {A: hero(1, 1, 10), B: hero(2, 1, 10)})
    with pytest.raises(RuleError, match="not b-token's turn"):
        engine.attack(match, B, random.Random(0))


def test_an_attack_without_target_hits_a_random_living_opponent():
    heroes = {A: hero(1, 1000, 1000), B: hero(2, 1, 10), C: hero(3, 1, 10_000)}
    match = engine.start_match("g", heroes)
    match, _ = engine.attack(match, A, random.Random(0), target=B)  # B dies
    hit = set()
    for seed in range(30):  # C, then A again: A's random targets are only ever C
        after, _ = engine.attack(match, C, random.Random(seed), target=A)
        hit.add(engine.attack(after, A, random.Random(seed))[1].enemy)
    assert hit == {C}


def test_random_targets_cover_every_living_opponent():
    match = engine.start_match("g", {A: hero(1, 1, 10), B: hero(2, 1, 10), C: hero(3, 1, 10)})
    hit = {engine.attack(match, A, random.Random(seed))[1].enemy for seed in range(40)}
    assert hit == {B, C}


def test_attacking_a_dead_enemy_changes_nothing_but_uses_the_turn():
    heroes = {A: hero(1, 1000, 1000), B: hero(2, 1, 10), C: hero(3, 1, 10_000)}
    match, _ = engine.attack(engine.start_match("g", heroes), A, random.Random(0), target=B)
    match, _ = engine.attack(match, C, random.Random(0), target=A)
    assert engine.dead_opponents(match, A) == [B]
    after, outcome = engine.attack(match, A, random.Random(0), target=B)
    assert outcome == DeadEnemyAttack(attacker=A, enemy=B)
    assert after.fighters == match.fighters
    assert after.order == (C, A)


def test_a_target_must_be_an_opponent_in_the_match():
    match = engine.start_match("g", {A: hero(1, 1, 10), B: hero(2, 1, 10)})
    for target in (A, "stranger"):
        with pytest.raises(RuleError, match="not an opponent"):
            engine.attack(match, A, random.Random(0), target=target)


def test_heroes_are_unique_within_a_match():
    with pytest.raises(RuleError, match="unique"):
        engine.start_match("g", {A: hero(1, 1, 10), B: hero(1, 1, 10)})
    with pytest.raises(RuleError, match="at least 2"):
        engine.start_match("g", {A: hero(1, 1, 10)})


def test_pick_hero_never_returns_a_hero_already_in_the_game():
    roster = [hero(i, 1, 10) for i in range(1, 6)]
    rng = random.Random(3)
    picks = set()
    for _ in range(5):
        picks.add(engine.pick_hero(roster, picks, rng).id)
    assert picks == {1, 2, 3, 4, 5}
    with pytest.raises(RuleError, match="already in this game"):
        engine.pick_hero(roster, picks, rng)


@pytest.mark.parametrize("seed", range(20))
def test_random_matches_end_with_exactly_one_survivor(seed):
    rng = random.Random(seed)
    roster = [hero(i, rng.randint(1, 50), rng.randint(1, 500)) for i in range(1, 30)]
    tokens = [f"t{rng.random()}" for _ in range(rng.choice((2, 3)))]
    match = engine.start_match("g", dict(zip(tokens, rng.sample(roster, len(tokens)), strict=True)))
    while not match.complete:
        match, outcome = engine.attack(match, match.whose_turn, rng)
        assert outcome.post == max(outcome.prior - outcome.damage, 0)
    assert len(engine.survivors(match)) == 1
