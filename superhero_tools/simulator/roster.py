"""Heroes and their combat numbers, loaded from any file in the Super Hero API format."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ROSTER = Path(__file__).with_name("default_roster.json")
POWERSTATS = ("intelligence", "strength", "speed", "durability", "power", "combat")


class RosterError(ValueError):
    """The roster file cannot be used; the message says which file and what to fix."""


@dataclass(frozen=True, slots=True)
class Hero:
    """A hero as the game sees it: its API id, its name and the two derived numbers."""

    id: int
    name: str
    attack: int
    health: int


def stat_value(raw: object) -> int:
    """One powerstat as a number. The API writes them as strings; 'null' and '0' count as 1."""
    try:
        value = int(str(raw).strip())
    except ValueError:
        return 1
    return value if value > 0 else 1


def hero_from_api(entry: dict) -> Hero:
    """health = intelligence × strength × durability × 10; attack = speed × power × combat."""
    stats = {name: stat_value(entry["powerstats"].get(name)) for name in POWERSTATS}
    return Hero(
        id=int(entry["id"]),
        name=str(entry.get("name", f"hero {entry['id']}")),
        attack=stats["speed"] * stats["power"] * stats["combat"],
        health=stats["intelligence"] * stats["strength"] * stats["durability"] * 10,
    )


def load_roster(path: Path | str = DEFAULT_ROSTER) -> tuple[Hero, ...]:
    """Every hero of a Super Hero API JSON list, sorted by id; ids must be unique."""
    path = Path(path)
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RosterError(
            f"roster file {path} not found; pass --roster PATH to a Super Hero API JSON list"
        ) from None
    except json.JSONDecodeError as exc:
        raise RosterError(f"roster file {path} is not valid JSON: {exc}") from None
    if not isinstance(entries, list):
        raise RosterError(f"roster file {path} must hold a JSON list of heroes")
    try:
        heroes = [hero_from_api(entry) for entry in entries]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RosterError(
            f"roster file {path}: every hero needs an 'id' and a 'powerstats' object ({exc!r})"
        ) from None
    ids = [hero.id for hero in heroes]
    if len(set(ids)) != len(ids):
        raise RosterError(f"roster file {path} repeats a hero id; ids must be unique")
    if len(heroes) < 2:
        raise RosterError(f"roster file {path} has {len(heroes)} heroes; a match needs 2")
    return tuple(sorted(heroes, key=lambda hero: hero.id))
