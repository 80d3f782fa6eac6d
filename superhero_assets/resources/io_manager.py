"""The `io_manager`: assets as Parquet folders under OUTPUT_FS, on Dagster's UPathIOManager.

An asset's path is `{OUTPUT_FS}/{asset key}/` (a partition's, a folder below it): a folder of
Parquet files, the layout the loader writes its tables in. So an asset downstream of
`lib_server_game` reads the loaded table through it, and an asset of its own is read back
the same way:

- loading scans every `*.parquet` below the folder lazily: a `polars.LazyFrame` unless the
  input asks for a `polars.DataFrame`, a `pyarrow.dataset.Dataset` or a `pyarrow.Table`;
- storing writes Arrow or polars data (one table, a lazy frame, or an iterable of pieces) as
  one `part-0.parquet`, streamed: on a local disk renamed into place, on an object store an
  upload that appears whole on completion. A rerun replaces it whole.

Nothing is ever pickled: any other value is refused. The loader's own tables are read,
never written.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import dagster as dg
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from pyarrow.fs import FSSpecHandler, PyFileSystem
from upath import UPath

from superhero_assets.core import contract
from superhero_assets.core.run import manifest
from superhero_assets.core.store.config import cloud_of
from superhero_assets.core.store.output_store import OutputStore, parquet_options
from superhero_assets.core.store.scan import scan_urls
from superhero_assets.resources.output import OutputResource

PART = "part-0.parquet"
# The loader's folders: an asset of that name is its table, read here but never written.
LOADER_FOLDERS = frozenset({"raw_messages", *contract.TABLES, "_manifest"})


class ParquetTablesIOManager(dg.ConfigurableIOManagerFactory):
    """Reads and writes assets as Parquet folders under OUTPUT_FS (local, s3, gs, az)."""

    output: OutputResource

    def create_io_manager(self, context: dg.InitResourceContext) -> ParquetTables:
        store = self.output.store()
        return ParquetTables(UPath(store.root, **store.fs.storage_options), store)


class ParquetTables(dg.UPathIOManager):
    extension = None  # an asset is a folder of Parquet files, not one file

    def __init__(self, root: UPath, store: OutputStore) -> None:
        super().__init__(base_path=root)
        self.root, self.store = root, store

    def load_input(self, context: dg.InputContext) -> Any:
        # The loader's tables stay whole when the ELT is partitioned by shard
        # (SUPERHERO_SHARDS): a downstream asset reads the table's folder, every shard's
        # files in it, not a folder per partition.
        if context.has_asset_key and context.asset_key.path[-1] in LOADER_FOLDERS:
            return self.load_from_path(context, self._get_path_without_extension(context))
        return super().load_input(context)

    def load_from_path(self, context: dg.InputContext, path: UPath) -> Any:
        files = parquet_files(path)
        if path.relative_to(self.root).parts[0] in LOADER_FOLDERS:
            uncommitted = in_flight_files(self.store, path.name)
            files = [f for f in files if f.relative_to(self.root).as_posix() not in uncommitted]
        if not files:
            raise FileNotFoundError(f"no Parquet files under {path}")
        wanted = context.dagster_type.typing_type
        if wanted in (ds.Dataset, pa.Table):
            dataset = ds.dataset(
                [f.path for f in files],
                format="parquet",
                filesystem=None if is_local(path) else PyFileSystem(FSSpecHandler(path.fs)),
            )
            return dataset.to_table() if wanted is pa.Table else dataset
        scan = scan_urls([str(f) for f in files], path.storage_options)
        return scan.collect(engine="streaming") if wanted is pl.DataFrame else scan

    def dump_to_path(self, context: dg.OutputContext, obj: Any, path: UPath) -> None:
        if obj is None:
            return  # the asset stored its data itself, or has none
        if path.relative_to(self.root).parts[0] in LOADER_FOLDERS:
            raise dg.Failure(f"{path} is the loader's; an asset may read it but never write it")
        target = path / PART
        rows, writer = 0, None
        with self.store.open_whole(target.relative_to(self.root).as_posix()) as fh:
            for piece in arrow_pieces(obj):
                if writer is None:
                    options = parquet_options(piece.schema, row_group_size=None)
                    writer = pq.ParquetWriter(fh, piece.schema, **options)
                writer.write_table(piece)
                rows += piece.num_rows
            if writer is None:
                raise TypeError(f"{context.asset_key.to_user_string()} returned no table")
            writer.close()
        context.add_output_metadata({"dagster/row_count": rows})

    def make_directory(self, path: UPath) -> None:
        if is_local(path):  # object stores have no folders to make
            path.mkdir(parents=True, exist_ok=True)


def in_flight_files(store: OutputStore, table: str) -> set[str]:
    """The table's files of the runs still pending (relative paths): not committed yet, and
    dropped if their offsets are reset, so a downstream asset never reads them."""
    pendings = manifest.read_pendings(store)
    if table == "etl_meta":
        return {f"etl_meta/{p.plan.etl_id}.parquet" for p in pendings}
    return {chunk.relpath(table) for p in pendings for chunk in p.plan.chunks}


def is_local(path: UPath) -> bool:
    return cloud_of(str(path)) is None


def parquet_files(folder: UPath) -> list[UPath]:
    """Every `*.parquet` below the folder, as a reader's `{folder}/**/*.parquet` glob finds
    them (never a hidden temporary file), listed afresh: other processes write here too."""
    if not is_local(folder):
        folder.fs.invalidate_cache(folder.path)
    found = folder.rglob("*.parquet") if folder.exists() else []
    return sorted((f for f in found if not f.name.startswith(".")), key=str)


def arrow_pieces(obj: Any) -> Iterator[pa.Table]:
    """Arrow tables from what an asset returned, a piece at a time; never a pickle."""
    if isinstance(obj, pl.LazyFrame):
        obj = obj.collect_batches(engine="streaming")
    elif isinstance(obj, pl.DataFrame | pa.Table | pa.RecordBatch):
        obj = [obj]
    elif not isinstance(obj, Iterable) or isinstance(obj, str | bytes | dict):
        raise TypeError(
            f"the io_manager stores Arrow or polars tables as Parquet, not {type(obj).__name__} "
            "(nothing is pickled); return None from an asset that stores its own data"
        )
    for piece in obj:
        if isinstance(piece, pl.DataFrame):
            yield piece.to_arrow(compat_level=pl.CompatLevel.oldest())
        elif isinstance(piece, pa.RecordBatch):
            yield pa.Table.from_batches([piece])
        elif isinstance(piece, pa.Table):
            yield piece
        else:
            raise TypeError(f"a piece must be an Arrow or polars table, not {type(piece).__name__}")
