"""Bot players: log in, find a match of 2 or 3, and attack until the match is over.

Like the original client, a bot asks /game/hero for each opponent's health before it acts
and aims at a random living one. With probability `misplay_rate` it instead aims at an
opponent it has seen die, which the server logs as 'Attacked Dead Enemy' (ERROR).
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect


class BotError(RuntimeError):
    """The server answered something a bot cannot continue from."""


@dataclass
class BotStats:
    games: int = 0
    completed: int = 0
    timed_out: int = 0
    actions: int = 0
    errors: list[str] = field(default_factory=list)


async def ask(ws: ClientConnection, payload: dict) -> dict:
    """One request, one answer; an error STATUS (a plain string) raises BotError."""
    await ws.send(json.dumps({"PAYLOAD": payload}))
    answer = json.loads(await ws.recv())
    if isinstance(answer.get("STATUS"), str):
        raise BotError(f"server said {answer['STATUS']!r} to {payload}")
    return answer


class Bot:
    def __init__(self, base_url: str, name: str, rng: random.Random, misplay_rate: float):
        self.base_url, self.name, self.rng, self.misplay_rate = base_url, name, rng, misplay_rate
        self.token = ""

    async def play(self, games: int, stats: BotStats) -> None:
        async with connect(f"{self.base_url}/api/v1/login") as ws:
            self.token = (await ask(ws, {"USER": self.name}))["PAYLOAD"]["USER_TOKEN"]
        async with (
            connect(f"{self.base_url}/api/v1/game/find") as find,
            connect(f"{self.base_url}/api/v1/game/action") as action,
            connect(f"{self.base_url}/api/v1/game/hero") as hero,
        ):
            for _ in range(games):
                size = self.rng.choice((2, 3))
                found = await ask(find, {"USER_TOKEN": self.token, "PARTICIPANTS": size})
                stats.games += 1
                await self.play_game(found["PAYLOAD"]["GAME_TOKEN"], action, hero, stats)

    async def play_game(
        self, game_token: str, action: ClientConnection, hero: ClientConnection, stats: BotStats
    ) -> None:
        ids = {"GAME_TOKEN": game_token, "USER_TOKEN": self.token}
        opponents: list[str] = []
        async with connect(f"{self.base_url}/api/v1/game/lobby") as lobby:
            await lobby.send(json.dumps({"PAYLOAD": ids}))
            async for raw in lobby:
                message = json.loads(raw)
                status = message["STATUS"]
                if status == "UNKNOWN GAME TOKEN":  # the lobby timed out before we arrived
                    stats.timed_out += 1
                    return
                if isinstance(status, str):
                    raise BotError(f"lobby of game {game_token} said {status!r}")
                if status.get("GAME") == "START":
                    opponents = [p for p in message["PAYLOAD"]["PARTICIPANTS"] if p != self.token]
                elif status.get("GAME") == "USER'S TURN":
                    target = await self.choose_target(game_token, opponents, hero)
                    await ask(action, {**ids, "ENEMY_TOKEN": target, "ACTION": "ATTACK"})
                    stats.actions += 1
                elif status.get("GAME") in ("COMPLETE", "TIMED OUT"):
                    stats.completed += status["GAME"] == "COMPLETE"
                    stats.timed_out += status["GAME"] == "TIMED OUT"
                    return

    async def choose_target(
        self, game_token: str, opponents: list[str], hero: ClientConnection
    ) -> str:
        health = {}
        for opponent in opponents:
            answer = await ask(hero, {"GAME_TOKEN": game_token, "USER_TOKEN": opponent})
            health[opponent] = answer["PAYLOAD"]["HERO"]["health"]
        living = [token for token in opponents if health[token] > 0]
        dead = [token for token in opponents if health[token] <= 0]
        if dead and self.rng.random() < self.misplay_rate:
            return self.rng.choice(dead)
        return self.rng.choice(living)


async def run_bots(
    host: str,
    port: int,
    count: int,
    games: int,
    seed: int | None = None,
    misplay_rate: float = 0.05,
) -> list[BotStats]:
    """`count` bots play `games` games each, all at once; a lobby that times out counts."""
    rng = random.Random(seed)
    run_id = uuid.UUID(int=rng.getrandbits(128)).hex[:8]
    bots = [
        Bot(
            f"ws://{host}:{port}",
            f"bot-{run_id}-{i:03d}",
            random.Random(rng.random()),
            misplay_rate,
        )
        for i in range(count)
    ]
    stats = [BotStats() for _ in bots]
    results = await asyncio.gather(
        *(bot.play(games, s) for bot, s in zip(bots, stats, strict=True)), return_exceptions=True
    )
    for result, s in zip(results, stats, strict=True):
        if isinstance(result, BaseException):
            s.errors.append(f"{type(result).__name__}: {result}")
    return stats
