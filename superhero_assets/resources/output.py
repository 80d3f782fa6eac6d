"""The Parquet output on OUTPUT_FS, and an IO manager that reads and writes it as Arrow."""

from collections.abc import Iterable

import dagster as dg
import pyarrow as pa
import pyarrow.dataset as ds
from pydantic import Field

from superhero_assets.core.store import OutputStore


class OutputResource(dg.ConfigurableResource):
    """Where the tables live: OUTPUT_FS, a local path or s3:// gs:// az:// URL."""

    output_fs: str = Field(default="./data", description="OUTPUT_FS root of every table.")

    def store(self) -> OutputStore:
        return OutputStore(self.output_fs)


class ParquetIOManager(dg.ConfigurableIOManager):
    """Stores Arrow tables as Parquet under OUTPUT_FS/{asset}/ and loads them as a dataset.

    An asset may return one Arrow table or an iterable of them; each piece becomes its own
    file, so memory stays bounded by the piece, and nothing is ever pickled.
    """

    output_fs: str = Field(default="./data", description="OUTPUT_FS root of every table.")

    def handle_output(self, context: dg.OutputContext, obj: pa.Table | Iterable[pa.Table] | None):
        if obj is None:
            return
        store = OutputStore(self.output_fs)
        name = context.asset_key.path[-1]
        pieces = [obj] if isinstance(obj, pa.Table) else obj
        rows = files = size = 0
        for i, piece in enumerate(pieces):
            size += store.write_parquet(f"{name}/{context.run_id}-{i:05d}.parquet", piece)
            rows, files = rows + piece.num_rows, files + 1
        context.add_output_metadata({"dagster/row_count": rows, "files": files, "bytes": size})

    def load_input(self, context: dg.InputContext) -> ds.Dataset:
        store = OutputStore(self.output_fs)
        name = context.upstream_output.asset_key.path[-1]
        files = [store.path(p) for p in store.list(name, ".parquet")]
        return ds.dataset(files, format="parquet", filesystem=None if store.is_local else store.fs)
