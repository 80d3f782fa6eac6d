"""Dagster-free logic: contracts, settings and the pieces the assets call."""
