"""Bulk mode: whole matches played in-process with the game engine, as fast as Kafka takes them.

The values are byte-for-byte what the server would log, but nothing goes over WebSocket.
With a seed everything is reproducible: the matches, the values, the tokens (UUIDs drawn
from the seeded generator) and the timestamps (a simulated clock from SEEDED_EPOCH, in the
machine's local time zone). Without a seed the clock is the wall clock.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from json.encoder import encode_basestring_ascii

from superhero_tools.simulator import engine, wire
from superhero_tools.simulator.roster import Hero

SEEDED_EPOCH_US = 1_693_562_400_000_000  # 2023-09-01T10:00:00Z, the simulated clock's start
MEAN_GAP_US = 2_000  # average simulated time between two records
USER_POOL = 1_000  # players come back for many matches, as the bots do
TIMEOUT_RATE = 0.02  # share of lobbies that never fill
MISPLAY_RATE = 0.01  # share of turns where a player aims at an enemy it saw die

Emit = Callable[[str, str], None]


class Clock:
    """Microsecond timestamps, with both wire formats cached per second."""

    def __init__(self, rng: random.Random, simulated: bool):
        self.rng, self.simulated = rng, simulated
        self.now_us = SEEDED_EPOCH_US if simulated else time.time_ns() // 1000
        self.second = -1
        self.utc = self.local_prefix = ""

    def tick(self) -> str:
        """Move time on and return the local ISO stamp; self.utc follows along."""
        if self.simulated:
            # At least 1 µs apart, so sorting by timestamp gives back the order of play.
            self.now_us += 1 + int(self.rng.random() * 2 * MEAN_GAP_US)
        else:
            self.now_us = time.time_ns() // 1000
        second, micro = divmod(self.now_us, 1_000_000)
        if second != self.second:
            self.second = second
            self.utc = wire.utc_stamp(second)
            self.local_prefix = datetime.fromtimestamp(second).isoformat()
        return f"{self.local_prefix}.{micro:06d}"


def simulate(
    messages: int,
    seed: int | None,
    roster: Sequence[Hero],
    emit: Emit,
    module: str = "kafka",
    level: int = logging.INFO,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Emits exactly `messages` records (those LOG_LEVEL lets through); returns the count."""
    if level > logging.ERROR:
        raise ValueError(f"LOG_LEVEL {logging.getLevelName(level)} filters every game record")
    rng = random.Random(seed)
    clock = Clock(rng, simulated=seed is not None)
    lobby, game = f"{module}.{wire.LOBBY_TOPIC}", f"{module}.{wire.GAME_TOPIC}"
    info, error = level <= logging.INFO, level <= logging.ERROR
    start_head, start_mid = wire.record_prefixes("INFO", lobby, wire.STARTING_MATCH)
    timeout_head, timeout_mid = wire.record_prefixes("INFO", lobby, wire.GAME_TIMED_OUT)
    clean_head, clean_mid = wire.record_prefixes("INFO", lobby, wire.CLEANING_GAME_RECORDS)
    attack_head, attack_mid = wire.record_prefixes("INFO", game, wire.ATTACK_COMPLETED)
    dead_head, dead_mid = wire.record_prefixes("ERROR", game, wire.ATTACKED_DEAD_ENEMY)
    dumps = wire.json.dumps
    quote = encode_basestring_ascii  # json.dumps(a_string), without its overhead
    lobby_topic, game_topic = wire.LOBBY_TOPIC, wire.GAME_TOPIC

    def token() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    users = [token() for _ in range(USER_POOL)]
    sent = 0
    report_every = 8192
    while sent < messages:
        size = rng.choice((2, 3))
        game_token, players = token(), rng.sample(users, size)
        heroes = dict(zip(players, rng.sample(roster, size), strict=True))
        if rng.random() < TIMEOUT_RATE:
            waiting = players[: rng.randint(1, size - 1)]
            stamp = clock.tick()
            task = dumps(wire.timed_out_task(game_token, clock.utc))
            batch = [(timeout_head, stamp, timeout_mid, task) for _ in waiting]
            batch += [
                (clean_head, clock.tick(), clean_mid, dumps(wire.cleaning_task(game_token, p)))
                for p in waiting
            ]
            for head, stamp, mid, task in batch[: messages - sent] if info else ():
                emit(lobby_topic, f"{head}{stamp}{mid}{task}}}")
                sent += 1
            continue
        match = engine.start_match(game_token, heroes)
        clock.tick()
        task = dumps(wire.starting_match_task(match, clock.utc))
        for _ in range(size if info else 0):
            if sent >= messages:
                return sent
            emit(lobby_topic, f"{start_head}{clock.tick()}{start_mid}{task}}}")
            sent += 1
        while not match.complete:
            if sent >= messages:
                return sent
            attacker = match.order[0]
            target = None
            if rng.random() < MISPLAY_RATE:
                dead = engine.dead_opponents(match, attacker)
                target = rng.choice(dead) if dead else None
            match, outcome = engine.attack(match, attacker, rng, target)
            stamp = clock.tick()
            if outcome.__class__ is engine.Attack:
                if info:
                    task = wire.fast_attack_task(
                        game_token,
                        attacker,
                        outcome.enemy,
                        outcome.damage,
                        outcome.prior,
                        outcome.post,
                        clock.utc,
                    )
                    emit(game_topic, f"{attack_head}{stamp}{attack_mid}{quote(task)}}}")
                    sent += 1
            elif error:
                task = wire.dead_enemy_task(game_token, outcome, clock.utc)
                emit(game_topic, f"{dead_head}{stamp}{dead_mid}{dumps(task)}}}")
                sent += 1
            if progress is not None and sent >= report_every:
                progress(sent)
                report_every = sent + 8192
        for player in players if info else ():
            if sent >= messages:
                return sent
            task = dumps(wire.cleaning_task(game_token, player))
            emit(lobby_topic, f"{clean_head}{clock.tick()}{clean_mid}{task}}}")
            sent += 1
    return sent
