"""Rosters in the Super Hero API format: our own default one, and any file via --roster."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from superhero_tools.simulator import make_roster
from superhero_tools.simulator.roster import (
    DEFAULT_ROSTER,
    RosterError,
    hero_from_api,
    load_roster,
)

SHARED_ROSTER = Path(__file__).resolve().parents[3] / "shared" / "data" / "superhero.json"


def api_hero(hero_id: str, **stats: str) -> dict:
    base = dict.fromkeys(
        ("intelligence", "strength", "speed", "durability", "power", "combat"), "1"
    )
    return {"response": "success", "id": hero_id, "name": f"h{hero_id}", "powerstats": base | stats}


def test_health_and_attack_follow_the_formulas():
    hero = hero_from_api(
        api_hero(
            "7",
            intelligence="38",
            strength="100",
            durability="80",
            speed="17",
            power="24",
            combat="64",
        )
    )
    assert (hero.id, hero.health, hero.attack) == (7, 38 * 100 * 80 * 10, 17 * 24 * 64)


def test_null_and_zero_stats_count_as_one():
    hero = hero_from_api(
        api_hero(
            "1",
            intelligence="null",
            strength="0",
            durability="5",
            speed="null",
            power="0",
            combat="3",
        )
    )
    assert (hero.health, hero.attack) == (1 * 1 * 5 * 10, 1 * 1 * 3)


def test_the_default_roster_is_our_own_generated_file():
    heroes = load_roster()
    assert 40 <= len(heroes) <= 60
    assert len({h.id for h in heroes}) == len(heroes)
    raw = json.loads(DEFAULT_ROSTER.read_text())
    assert raw == make_roster.generate(), "regenerate with python -m ...simulator.make_roster"
    assert all(isinstance(v, str) for e in raw for v in e["powerstats"].values())
    assert any(v == "null" for e in raw for v in e["powerstats"].values())


def test_any_api_format_file_loads(tmp_path):
    path = tmp_path / "heroes.json"
    path.write_text(json.dumps([api_hero("2", speed="9"), api_hero("1", power="null")]))
    heroes = load_roster(path)
    assert [h.id for h in heroes] == [1, 2] and heroes[1].attack == 9


@pytest.mark.skipif(not SHARED_ROSTER.exists(), reason=f"{SHARED_ROSTER} is not on this machine")
def test_the_real_732_hero_roster_loads():
    heroes = load_roster(SHARED_ROSTER)
    assert len(heroes) == 732
    a_bomb = next(h for h in heroes if h.id == 1)
    assert (a_bomb.attack, a_bomb.health) == (26112, 3040000)  # the example hero 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found"),
        ("{not json", "not valid JSON"),
        ('{"id": "1"}', "JSON list"),
        ('[{"id": "1"}]', "'powerstats'"),
        ("[]", "a match needs 2"),
    ],
)
def test_a_bad_roster_file_says_what_to_fix(tmp_path, content, message):
    path = tmp_path / "roster.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(RosterError, match=message):
        load_roster(path)


def test_repeated_ids_are_refused(tmp_path):
    path = tmp_path / "roster.json"
    path.write_text(json.dumps([api_hero("1"), api_hero("1")]))
    with pytest.raises(RosterError, match="repeats a hero id"):
        load_roster(path)
