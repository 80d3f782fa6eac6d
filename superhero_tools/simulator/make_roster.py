"""Writes the project's own default roster: invented heroes in the Super Hero API format.

Run `python -m superhero_tools.simulator.make_roster` to regenerate default_roster.json. The
output is a pure function of SEED, so the committed file can always be checked against it.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from superhero_tools.simulator.roster import DEFAULT_ROSTER, POWERSTATS

SEED = 20230901
HERO_COUNT = 48
FIRST = [
    "Iron",
    "Night",
    "Storm",
    "Quantum",
    "Crimson",
    "Silver",
    "Shadow",
    "Atomic",
    "Velvet",
    "Thunder",
    "Frost",
    "Solar",
]
LAST = [
    "Wasp",
    "Falcon",
    "Warden",
    "Comet",
    "Golem",
    "Lynx",
    "Specter",
    "Titan",
    "Raven",
    "Sentinel",
    "Mantis",
    "Viper",
]
PUBLISHERS = ("Northwind Comics", "Lantern House", "Ironleaf Press")


def invented_hero(hero_id: int, name: str, rng: random.Random) -> dict:
    """One hero. About one hero in five has a 'null' stat, as in the real API; it counts as 1."""
    stats = {
        stat: "null" if rng.random() < 0.04 else str(rng.randint(10, 100)) for stat in POWERSTATS
    }
    return {
        "response": "success",
        "id": str(hero_id),
        "name": name,
        "powerstats": stats,
        "biography": {
            "full-name": name,
            "publisher": rng.choice(PUBLISHERS),
            "alignment": rng.choice(("good", "good", "bad", "neutral")),
        },
    }


def generate(seed: int = SEED, count: int = HERO_COUNT) -> list[dict]:
    rng = random.Random(seed)
    names = rng.sample([f"{first} {last}" for first in FIRST for last in LAST], count)
    return [invented_hero(index + 1, name, rng) for index, name in enumerate(names)]


def main(path: Path = DEFAULT_ROSTER) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(generate(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {HERO_COUNT} invented heroes to {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
