"""The game's rules as pure functions: no network, no clock, randomness passed in.

A match is an immutable value; every action returns the next match and what happened, so
the server, the unit tests and the bulk mode all play by exactly the same rules. The values
are NamedTuples rather than frozen dataclasses because bulk mode creates millions of them.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping, Sequence
from typing import NamedTuple

from superhero_tools.simulator.roster import Hero


class RuleError(ValueError):
    """An action the rules do not allow; the message says why."""


class Fighter(NamedTuple):
    """A player's hero inside one match."""

    token: str
    hero_id: int
    attack: int
    health: int

    def as_payload(self) -> dict[str, object]:
        """The hero as the wire shows it: {token, id, attack, health}."""
        return {
            "token": self.token,
            "id": self.hero_id,
            "attack": self.attack,
            "health": self.health,
        }


class Match(NamedTuple):
    """A started match. `order` holds the living players; its head acts next."""

    game_token: str
    fighters: Mapping[str, Fighter]
    order: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return len(self.order) <= 1

    @property
    def whose_turn(self) -> str | None:
        return None if self.complete else self.order[0]


class Attack(NamedTuple):
    """An attack that landed: the enemy's health went from `prior` to `post`."""

    attacker: str
    enemy: str
    damage: int
    prior: int
    post: int


class DeadEnemyAttack(NamedTuple):
    """An attack aimed at an enemy that was already dead: nothing happens but the turn passes."""

    attacker: str
    enemy: str


def pick_hero(roster: Sequence[Hero], taken_ids: Collection[int], rng: random.Random) -> Hero:
    """A random hero not already in the game."""
    free = [hero for hero in roster if hero.id not in taken_ids]
    if not free:
        raise RuleError("every hero of the roster is already in this game")
    return rng.choice(free)


def start_match(game_token: str, heroes: Mapping[str, Hero]) -> Match:
    """Players act in the order of their sorted user tokens."""
    if len(heroes) < 2:
        raise RuleError(f"a match needs at least 2 players, got {len(heroes)}")
    if len({hero.id for hero in heroes.values()}) != len(heroes):
        raise RuleError("heroes must be unique within a match")
    fighters = {
        token: Fighter(token, hero.id, hero.attack, hero.health) for token, hero in heroes.items()
    }
    return Match(game_token, fighters, tuple(sorted(heroes)))


def attack(
    match: Match, attacker: str, rng: random.Random, target: str | None = None
) -> tuple[Match, Attack | DeadEnemyAttack]:
    """The attacker hits `target`, or a random living opponent when no target is given.

    damage = the attacker's attack; post = max(prior - damage, 0). A dead hero leaves the
    order, then the order rotates so the attacker acts last. Aiming at a dead enemy changes
    no health but still uses the turn.
    """
    if match.complete:
        raise RuleError(f"match {match.game_token} is complete")
    if attacker != match.order[0]:
        raise RuleError(f"it is not {attacker}'s turn; {match.order[0]} acts next")
    if target is None:
        target = rng.choice(match.order[1:])
    elif target == attacker or target not in match.fighters:
        raise RuleError(f"{target} is not an opponent in match {match.game_token}")
    rotated = match.order[1:] + match.order[:1]
    enemy = match.fighters[target]
    if enemy.health <= 0:
        return Match(match.game_token, match.fighters, rotated), DeadEnemyAttack(attacker, target)
    damage = match.fighters[attacker].attack
    post = max(enemy.health - damage, 0)
    fighters = dict(match.fighters)
    fighters[target] = Fighter(enemy.token, enemy.hero_id, enemy.attack, post)
    order = rotated if post else tuple(token for token in rotated if token != target)
    return Match(match.game_token, fighters, order), Attack(
        attacker, target, damage, enemy.health, post
    )


def dead_opponents(match: Match, player: str) -> list[str]:
    """Opponents of `player` whose heroes have no health left."""
    return [t for t, f in match.fighters.items() if t != player and f.health <= 0]


def survivors(match: Match) -> list[str]:
    """The players whose heroes still have health."""
    return [token for token, fighter in match.fighters.items() if fighter.health > 0]
