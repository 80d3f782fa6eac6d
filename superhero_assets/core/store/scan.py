"""Lazy polars scans of the output's Parquet, on a local disk or an object store.

A scan reads only the columns, row groups and rows its query needs; collected with
engine="streaming", its memory follows a batch, not the table. polars reads object stores
with its own client (Rust's object_store), not fsspec: the store's fsspec options
(core/store/config.py) are translated to its keys (core/store/polars_options.py), so one
configuration serves both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from superhero_assets.core.store.config import cloud_of
from superhero_assets.core.store.output_store import OutputStore
from superhero_assets.core.store.polars_options import PolarsOptions, translate


def scan(store: OutputStore, relpaths: Sequence[str]) -> pl.LazyFrame:
    """These files of the store (relative paths, at least one) as one lazy frame."""
    return scan_urls([store.path(p) for p in relpaths], store.fs.storage_options)


def scan_urls(urls: Sequence[str], fsspec_options: Mapping[str, Any]) -> pl.LazyFrame:
    """Parquet files by URL (or local path), all on one store with these fsspec options.

    The names are taken as they are (no glob, no hive columns): the folders under a table
    are topic/partition, and a `key=value` reading would clash with those columns."""
    if not urls:
        raise ValueError("a scan needs at least one file")
    return pl.scan_parquet(
        list(urls),
        storage_options=polars_options(urls[0], fsspec_options),
        hive_partitioning=False,
        glob=False,
    )


def polars_options(url: str, options: Mapping[str, Any]) -> PolarsOptions | None:
    """polars' storage_options for a URL of the store these fsspec options configure.

    Raises StoreConfigError (a ValueError) naming any option polars has no key for."""
    cloud = cloud_of(url)
    return None if cloud is None else translate(cloud, options)
