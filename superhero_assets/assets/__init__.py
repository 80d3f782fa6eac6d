"""Software-defined assets: the landing (raw_messages, the five tables, quarantine), the
commit and their checks."""

from superhero_assets.assets.checks import ALL_CHECKS
from superhero_assets.assets.elt import kafka_offsets, land
from superhero_assets.assets.freshness import FreshnessLimits, tables_are_fresh

ELT_ASSETS = [land, kafka_offsets]

__all__ = ["ALL_CHECKS", "ELT_ASSETS", "FreshnessLimits", "tables_are_fresh"]
