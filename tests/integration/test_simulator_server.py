"""The WebSocket server and bots against the real stack, and the server's answers to bad input."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from websockets.asyncio.client import connect

from tests.support.simulator_fixtures import (
    ServerProcess,
    check_matches,
    check_value,
    consume_since,
    high_watermarks,
)
from tests.support.stack import superhero


@pytest.mark.integration
def test_ten_bots_play_consistent_matches_logged_to_kafka(stack):
    before = high_watermarks(stack.kafka_bootstrap_servers)
    server = ServerProcess({"LOGGER_MODULE": "kafka", "LOBBY_TIMEOUT": "2", "LOG_LEVEL": "INFO"})
    try:
        bots = superhero(
            "players",
            "--count",
            "10",
            "--games",
            "3",
            "--seed",
            "8",
            "--misplay-rate",
            "0.3",
            env={"SERVER_PORT": str(server.port)},
            timeout=120,
        )
    finally:
        code, _, server_err = server.stop()
    assert bots.returncode == 0, bots.stdout + bots.stderr
    assert code == 0 and "game logs flushed" in server_err, server_err
    summary = re.search(r"(\d+) games joined, (\d+) completed, (\d+) timed out", bots.stdout)
    joined, completed, timed_out = map(int, summary.groups())
    assert joined == 30 and completed + timed_out == 30 and completed >= 10

    consumed = consume_since(stack.kafka_bootstrap_servers, before)
    checked = [check_value(topic, value) for topic, _, value in consumed]
    matches = check_matches(checked)
    # Each bot counts the matches it finished, so the players of all logged matches add up.
    assert sum(m["players"] for m in matches.values()) == completed
    assert all(m["complete"] for m in matches.values())
    timed_out_records = [c for c in checked if c.message == "Game Timed Out"]
    assert len(timed_out_records) >= timed_out  # bots told in time, plus any not yet in a lobby
    assert {(topic, p) for topic, p, _ in consumed} == set(before), "all partitions get data"


@pytest.fixture(scope="module")
def quiet_server():
    """A server that prints its game logs instead of sending them to Kafka."""
    server = ServerProcess({"LOGGER_MODULE": "Default"})
    yield server
    server.stop()


async def ask(url: str, *requests: str) -> list[dict]:
    async with connect(url) as ws:
        answers = []
        for request in requests:
            await ws.send(request)
            answers.append(json.loads(await ws.recv()))
        return answers


async def first_answer(url: str) -> dict:
    """An unknown route answers at once, then closes."""
    async with connect(url) as ws:
        return json.loads(await ws.recv())


def status_of(url: str, *requests: str) -> list[object]:
    return [answer["STATUS"] for answer in asyncio.run(ask(url, *requests))]


@pytest.mark.parametrize(
    ("route", "payload", "status"),
    [
        ("login", {}, "MISSING USER IN PAYLOAD"),
        ("game/find", {"PARTICIPANTS": 2}, "MISSING USER TOKEN IN PAYLOAD"),
        ("game/find", {"USER_TOKEN": "x"}, "MISSING PARTICIPANTS IN PAYLOAD"),
        ("game/find", {"USER_TOKEN": "x", "PARTICIPANTS": "two"}, "PARTICIPANTS MUST BE A WHOLE"),
        ("game/find", {"USER_TOKEN": "x", "PARTICIPANTS": 2}, "UNKNOWN USER TOKEN"),
        ("game/lobby", {"USER_TOKEN": "x"}, "MISSING GAME TOKEN IN PAYLOAD"),
        ("game/lobby", {"GAME_TOKEN": "g", "USER_TOKEN": "x"}, "UNKNOWN GAME TOKEN"),
        ("game/action", {"GAME_TOKEN": "g", "USER_TOKEN": "x"}, "MISSING ACTION IN PAYLOAD"),
        ("game/action", {"GAME_TOKEN": "g", "ACTION": "ATTACK"}, "MISSING USER TOKEN"),
        (
            "game/action",
            {"GAME_TOKEN": "g", "USER_TOKEN": "x", "ACTION": "DANCE"},
            "UNKNOWN ACTION",
        ),
        ("game/hero", {"GAME_TOKEN": "g"}, "MISSING USER TOKEN IN PAYLOAD"),
        ("game/hero", {"GAME_TOKEN": "g", "USER_TOKEN": ["x"]}, "USER TOKEN MUST BE A STRING"),
        (
            "game/action",
            {"GAME_TOKEN": "g", "USER_TOKEN": "x", "ACTION": "ATTACK", "ENEMY_TOKEN": {}},
            "ENEMY TOKEN MUST BE A STRING",
        ),
    ],
)
def test_a_request_missing_a_field_gets_an_error_status_and_the_server_keeps_serving(
    quiet_server, route, payload, status
):
    base = f"ws://127.0.0.1:{quiet_server.port}/api/v1"
    bad_request = json.dumps({"PAYLOAD": payload})
    first, second = status_of(f"{base}/{route}", bad_request, bad_request)
    assert isinstance(first, str) and first.startswith(status)
    # The same connection answers again, and the server still takes new connections.
    assert second == first
    valid_login = json.dumps({"PAYLOAD": {"USER": "ann"}})
    assert status_of(f"{base}/login", valid_login) == [{"LOGIN": "SUCCESS"}]
    assert quiet_server.proc.poll() is None


def test_malformed_messages_and_unknown_routes_get_error_statuses(quiet_server):
    base = f"ws://127.0.0.1:{quiet_server.port}"
    answers = status_of(
        f"{base}/api/v1/login",
        "{not json",
        "[1, 2]",
        '{"PAYLOAD": "x"}',
        json.dumps({"PAYLOAD": {"USER": "bob"}}),
    )
    assert answers == [
        "INVALID JSON",
        "MISSING PAYLOAD OBJECT",
        "MISSING PAYLOAD OBJECT",
        {"LOGIN": "SUCCESS"},
    ]
    assert asyncio.run(first_answer(f"{base}/api/v2/nowhere"))["STATUS"].startswith(
        "UNKNOWN ROUTE /api/v2/nowhere"
    )
    assert quiet_server.proc.poll() is None


def test_two_players_play_a_match_by_hand(quiet_server):
    """The protocol step by step, as a client sees it: login, find, lobby, turns, complete."""

    async def play() -> list[str]:
        base = f"ws://127.0.0.1:{quiet_server.port}/api/v1"
        tokens = []
        for name in ("hand-a", "hand-b"):
            (answer,) = await ask(f"{base}/login", json.dumps({"PAYLOAD": {"USER": name}}))
            tokens.append(answer["PAYLOAD"]["USER_TOKEN"])
        find = [json.dumps({"PAYLOAD": {"USER_TOKEN": t, "PARTICIPANTS": 2}}) for t in tokens]
        joined = [(await ask(f"{base}/game/find", f))[0] for f in find]
        game = joined[0]["PAYLOAD"]["GAME_TOKEN"]
        assert joined[1]["PAYLOAD"]["GAME_TOKEN"] == game
        assert joined[0]["PAYLOAD"]["HERO_ID"] != joined[1]["PAYLOAD"]["HERO_ID"]
        seen: list[str] = []

        async def player(token: str) -> None:
            ids = {"GAME_TOKEN": game, "USER_TOKEN": token}
            async with (
                connect(f"{base}/game/lobby") as lobby,
                connect(f"{base}/game/action") as act,
            ):
                await lobby.send(json.dumps({"PAYLOAD": ids}))
                async for raw in lobby:
                    status = json.loads(raw)["STATUS"]["GAME"]
                    seen.append(status)
                    if status == "USER'S TURN":
                        await act.send(json.dumps({"PAYLOAD": {**ids, "ACTION": "ATTACK"}}))
                        result = json.loads(await act.recv())
                        assert result["STATUS"]["ACTION"] == "ATTACK"
                    if status in ("COMPLETE", "TIMED OUT"):
                        return

        await asyncio.wait_for(asyncio.gather(*(player(t) for t in tokens)), timeout=60)
        return seen

    seen = asyncio.run(play())
    assert seen.count("START") == 2 and seen.count("COMPLETE") == 2
    assert "USER'S TURN" in seen and "TIMED OUT" not in seen
