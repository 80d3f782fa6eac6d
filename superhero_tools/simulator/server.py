"""The WebSocket game server: five routes over the in-process Registry.

Each route reads JSON requests {"PAYLOAD": {...}} and answers {"PAYLOAD", "STATUS"}. A bad
request gets an error STATUS string (as the original did) and the connection stays usable.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from superhero_tools.simulator.game_logs import GameLoggers
from superhero_tools.simulator.lobby import (
    COMPLETE,
    IN_PROGRESS,
    TIMED_OUT,
    Game,
    LobbyError,
    LogEvent,
    Registry,
)

log = logging.getLogger(__name__)
FINAL_STATUS = {COMPLETE: "COMPLETE", TIMED_OUT: "TIMED OUT"}


def need(payload: dict, *names: str) -> list:
    """The named fields, or a LobbyError naming the first one missing."""
    for name in names:
        if payload.get(name) is None:
            raise LobbyError(f"MISSING {name.replace('_', ' ')} IN PAYLOAD")
        if name != "PARTICIPANTS" and not isinstance(payload[name], str):
            raise LobbyError(f"{name.replace('_', ' ')} MUST BE A STRING")
    return [payload[name] for name in names]


def reply(payload: dict, status: dict | str) -> str:
    return json.dumps({"PAYLOAD": payload, "STATUS": status})


class GameServer:
    """Routes requests to the Registry, logs its events and wakes the waiting lobbies."""

    def __init__(self, registry: Registry, loggers: GameLoggers, lobby_timeout_s: float):
        self.registry, self.loggers, self.lobby_timeout_s = registry, loggers, lobby_timeout_s
        self.changed: dict[str, asyncio.Event] = {}  # game token -> set when the game changes
        self.routes: dict[str, Callable[[ServerConnection, dict], Awaitable[str | None]]] = {
            "/api/v1/login": self.login,
            "/api/v1/game/find": self.find,
            "/api/v1/game/lobby": self.lobby,
            "/api/v1/game/action": self.action,
            "/api/v1/game/hero": self.hero,
        }

    def emit(self, game: Game, events: list[LogEvent]) -> None:
        if not events:
            return
        for event in events:
            logger = self.loggers.lobby if event.topic.endswith("lobby") else self.loggers.game
            logger.log(event.level, event.message, extra={"task": event.task})
        # Wake everyone waiting on this game; they look at its new state themselves.
        game.version += 1
        self.changed.pop(game.token, asyncio.Event()).set()

    async def handle(self, ws: ServerConnection) -> None:
        route = self.routes.get(ws.request.path)
        if route is None:
            known = ", ".join(self.routes)
            await ws.send(reply({}, f"UNKNOWN ROUTE {ws.request.path}; USE ONE OF {known}"))
            return
        try:
            async for raw in ws:
                try:
                    payload = json.loads(raw)
                    payload = payload.get("PAYLOAD") if isinstance(payload, dict) else None
                    if not isinstance(payload, dict):
                        raise LobbyError("MISSING PAYLOAD OBJECT")
                    answer = await route(ws, payload)
                except json.JSONDecodeError:
                    answer = reply({}, "INVALID JSON")
                except LobbyError as exc:
                    answer = reply({}, str(exc))
                except Exception:  # a bug must cost one answer, not the connection
                    log.exception("request %r on %s failed", raw, ws.request.path)
                    answer = reply({}, "INTERNAL SERVER ERROR; SEE THE SERVER LOG")
                if answer is not None:
                    await ws.send(answer)
        except ConnectionClosed:
            pass

    async def login(self, ws: ServerConnection, payload: dict) -> str:
        (user,) = need(payload, "USER")
        return reply({"USER_TOKEN": self.registry.login(str(user))}, {"LOGIN": "SUCCESS"})

    async def find(self, ws: ServerConnection, payload: dict) -> str:
        user_token, size = need(payload, "USER_TOKEN", "PARTICIPANTS")
        if not isinstance(size, int) or isinstance(size, bool):
            raise LobbyError("PARTICIPANTS MUST BE A WHOLE NUMBER")
        game, hero = self.registry.find(user_token, size)
        if len(game.heroes) == 1:  # a new game: its lobby closes after LOBBY_TIMEOUT
            asyncio.get_running_loop().call_later(self.lobby_timeout_s, self._time_out, game)
        return reply({"GAME_TOKEN": game.token, "HERO_ID": hero.id}, {"JOINED": "SUCCESS"})

    def _time_out(self, game: Game) -> None:
        self.emit(game, self.registry.time_out(game))

    async def hero(self, ws: ServerConnection, payload: dict) -> str:
        game_token, user_token = need(payload, "GAME_TOKEN", "USER_TOKEN")
        game = self.registry.game_of(game_token, user_token)
        if game.match is not None:
            hero = game.match.fighters[user_token].as_payload()
        else:
            found = game.heroes[user_token]
            hero = {
                "token": user_token,
                "id": found.id,
                "attack": found.attack,
                "health": found.health,
            }
        return reply(
            {"GAME_TOKEN": game_token, "USER_TOKEN": user_token, "HERO": hero},
            {"GAME": "HERO SPEC"},
        )

    async def action(self, ws: ServerConnection, payload: dict) -> str:
        game_token, user_token, action = need(payload, "GAME_TOKEN", "USER_TOKEN", "ACTION")
        if action != "ATTACK":
            raise LobbyError(f"UNKNOWN ACTION {action}; ONLY ATTACK")
        enemy = payload.get("ENEMY_TOKEN")  # optional: no target means a random living one
        if enemy is not None and not isinstance(enemy, str):
            raise LobbyError("ENEMY TOKEN MUST BE A STRING")
        game = self.registry.game_of(game_token, user_token)
        task, events = self.registry.act(game, user_token, enemy)
        self.emit(game, events + self.registry.autoplay(game))
        return task

    async def lobby(self, ws: ServerConnection, payload: dict) -> None:
        """Waits for the match, then tells this player each time it is its turn."""
        game_token, user_token = need(payload, "GAME_TOKEN", "USER_TOKEN")
        game = self.registry.game_of(game_token, user_token)
        self.emit(game, self.registry.enter_lobby(game, user_token))
        started, told_turn = False, -1
        try:
            while True:
                seen = game.version
                if game.match is not None and not started:
                    started = True
                    await ws.send(start_message(game))
                if game.status == IN_PROGRESS and game.match.whose_turn == user_token:
                    if told_turn != game.actions:
                        told_turn = game.actions
                        await ws.send(reply({"GAME_TOKEN": game.token}, {"GAME": "USER'S TURN"}))
                elif game.status in FINAL_STATUS:
                    final = {"GAME": FINAL_STATUS[game.status]}
                    await ws.send(reply({"GAME_TOKEN": game.token}, final))
                    return None
                if not await self._wait_change(ws, game, seen):
                    return None
        finally:
            game.present.discard(user_token)
            if game.status == IN_PROGRESS:
                self.emit(game, self.registry.autoplay(game))

    async def _wait_change(self, ws: ServerConnection, game: Game, seen: int) -> bool:
        """Waits until the game moves past version `seen`; False if the player disconnected."""
        if game.version != seen:
            return True
        changed = asyncio.ensure_future(self.changed.setdefault(game.token, asyncio.Event()).wait())
        closed = asyncio.ensure_future(ws.wait_closed())
        done, pending = await asyncio.wait({changed, closed}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        return closed not in done


def start_message(game: Game) -> str:
    heroes = {token: fighter.as_payload() for token, fighter in game.match.fighters.items()}
    payload = {"GAME_TOKEN": game.token, "PARTICIPANTS": list(heroes), "PARTICIPANTS_HEROS": heroes}
    return reply(payload, {"GAME": "START"})


async def run_server(
    server: GameServer, host: str, port: int, ready: Callable[[Server], None] | None = None
) -> None:
    """Serve until cancelled (Ctrl-C)."""
    async with serve(server.handle, host, port) as ws_server:
        if ready is not None:
            ready(ws_server)
        await ws_server.serve_forever()
