"""Users, matchmaking, lobbies and turns, kept in the server process.

Everything here is synchronous and network-free: each step returns the log events it caused,
and the server sends them to the loggers. The server runs on one event loop, so no locks.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from superhero_tools.simulator import engine, wire
from superhero_tools.simulator.roster import Hero

WAITING, IN_PROGRESS, COMPLETE, TIMED_OUT = "Waiting Lobby", "In-Progress", "Completed", "Timed Out"


class LobbyError(ValueError):
    """A request the server refuses; str(error) is the STATUS sent back."""


@dataclass(frozen=True)
class LogEvent:
    """One record to log: `topic` is wire.LOBBY_TOPIC or wire.GAME_TOPIC."""

    topic: str
    level: int
    message: str
    task: str | dict


@dataclass
class Game:
    token: str
    size: int
    heroes: dict[str, Hero] = field(default_factory=dict)  # join order
    present: set[str] = field(default_factory=set)  # players with an open lobby connection
    status: str = WAITING
    match: engine.Match | None = None
    actions: int = 0  # a turn's identity: the number of actions before it
    version: int = 0  # bumped by the server on every change, so waiters never miss one


class Registry:
    """All users and games of one server."""

    def __init__(
        self,
        roster: Sequence[Hero],
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.roster, self.rng, self.clock = roster, rng or random.Random(), clock
        self.users: dict[str, str] = {}  # user name -> user token
        self.tokens: set[str] = set()
        self.games: dict[str, Game] = {}

    def _new_token(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def login(self, user: str) -> str:
        """The user's token, created on first login."""
        if user not in self.users:
            self.users[user] = self._new_token()
            self.tokens.add(self.users[user])
        return self.users[user]

    def find(self, user_token: str, size: int) -> tuple[Game, Hero]:
        """Join an open game of `size` players, or create one; the hero is new to the game."""
        if user_token not in self.tokens:
            raise LobbyError("UNKNOWN USER TOKEN, LOGIN FIRST")
        if not 2 <= size <= len(self.roster):
            raise LobbyError(f"PARTICIPANTS MUST BE BETWEEN 2 AND {len(self.roster)}")
        game = next(
            (
                g
                for g in self.games.values()
                if g.size == size
                and g.status == WAITING
                and len(g.heroes) < size
                and user_token not in g.heroes
            ),
            None,
        )
        if game is None:
            game = Game(self._new_token(), size)
            self.games[game.token] = game
        taken = {hero.id for hero in game.heroes.values()}
        hero = engine.pick_hero(self.roster, taken, self.rng)
        game.heroes[user_token] = hero
        return game, hero

    def game_of(self, game_token: str, user_token: str) -> Game:
        game = self.games.get(game_token)
        if game is None:
            raise LobbyError("UNKNOWN GAME TOKEN")
        if user_token not in game.heroes:
            raise LobbyError("USER NOT IN GAME")
        return game

    def enter_lobby(self, game: Game, user_token: str) -> list[LogEvent]:
        """Mark the player present; the last one to arrive starts the match."""
        game.present.add(user_token)
        if game.status != WAITING or len(game.present) < game.size:
            return []
        game.match, game.status = engine.start_match(game.token, game.heroes), IN_PROGRESS
        task = wire.starting_match_task(game.match, wire.utc_stamp(self.clock()))
        return [LogEvent(wire.LOBBY_TOPIC, logging.INFO, wire.STARTING_MATCH, task)] * game.size

    def time_out(self, game: Game) -> list[LogEvent]:
        """A lobby that did not fill in time: every player of it is told, then cleaned up."""
        if game.status != WAITING:
            return []
        game.status = TIMED_OUT
        task = wire.timed_out_task(game.token, wire.utc_stamp(self.clock()))
        events = [LogEvent(wire.LOBBY_TOPIC, logging.INFO, wire.GAME_TIMED_OUT, task)] * len(
            game.heroes
        )
        return events + self._clean(game)

    def act(self, game: Game, user_token: str, target: str | None) -> tuple[str, list[LogEvent]]:
        """The player's attack; returns the task sent back to it and the events to log."""
        if game.status != IN_PROGRESS or game.match is None:
            raise LobbyError("GAME NOT IN PROGRESS")
        if game.match.whose_turn != user_token:
            raise LobbyError("NOT USER'S TURN")
        if target is not None and (target == user_token or target not in game.heroes):
            raise LobbyError("ENEMY TOKEN IS NOT AN OPPONENT IN THIS GAME")
        game.match, outcome = engine.attack(game.match, user_token, self.rng, target)
        game.actions += 1
        stamp = wire.utc_stamp(self.clock())
        if isinstance(outcome, engine.DeadEnemyAttack):
            task = wire.dead_enemy_task(game.token, outcome, stamp)
            events = [LogEvent(wire.GAME_TOPIC, logging.ERROR, wire.ATTACKED_DEAD_ENEMY, task)]
        else:
            task = wire.attack_task(game.token, outcome, stamp)
            events = [LogEvent(wire.GAME_TOPIC, logging.INFO, wire.ATTACK_COMPLETED, task)]
        if game.match.complete:
            game.status = COMPLETE
            events += self._clean(game)
        return task, events

    def autoplay(self, game: Game) -> list[LogEvent]:
        """Players who left the lobby mid-match attack a random enemy, so the match ends."""
        events: list[LogEvent] = []
        while game.status == IN_PROGRESS and game.match.whose_turn not in game.present:
            events += self.act(game, game.match.whose_turn, None)[1]
        return events

    def _clean(self, game: Game) -> list[LogEvent]:
        """Forget a finished game; 'Cleaning Game Records' is logged once per player."""
        self.games.pop(game.token, None)
        return [
            LogEvent(
                wire.LOBBY_TOPIC,
                logging.INFO,
                wire.CLEANING_GAME_RECORDS,
                wire.cleaning_task(game.token, token),
            )
            for token in game.heroes
        ]
