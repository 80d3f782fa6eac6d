"""Software-defined assets: the raw landing, the five tables, quarantine and their checks."""

from superhero_assets.assets.checks import ALL_CHECKS
from superhero_assets.assets.elt import elt_tables, kafka_offsets, raw_messages
from superhero_assets.assets.freshness import FreshnessLimits, tables_are_fresh

ELT_ASSETS = [raw_messages, elt_tables, kafka_offsets]

__all__ = ["ALL_CHECKS", "ELT_ASSETS", "FreshnessLimits", "tables_are_fresh"]
