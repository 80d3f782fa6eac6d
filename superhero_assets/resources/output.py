"""The Parquet output on OUTPUT_FS, and an IO manager that reads and writes it as Arrow."""

import os
from collections.abc import Iterable

import dagster as dg
import pyarrow as pa
import pyarrow.dataset as ds
from pydantic import Field

from superhero_assets.core.store.output_store import OutputStore, storage_options_from_env


class OutputResource(dg.ConfigurableResource):
    """Where the tables live: OUTPUT_FS, a local path or an s3://, gs://, az:// URL.

    Non-secret settings (endpoints, account names, project ids) are read from the
    environment by the store; the secrets below are given as dg.EnvVar, so Dagster shows
    only the variable's name, never its value. Unset, they too come from the environment.
    """

    output_fs: str = Field(default="./data", description="OUTPUT_FS root of every table.")
    aws_secret_access_key: str | None = Field(
        default=None, description="AWS_SECRET_ACCESS_KEY, as dg.EnvVar."
    )
    azure_account_key: str | None = Field(
        default=None, description="AZURE_ACCOUNT_KEY, as dg.EnvVar."
    )
    azure_client_secret: str | None = Field(
        default=None, description="AZURE_CLIENT_SECRET, as dg.EnvVar."
    )

    def store(self) -> OutputStore:
        env = dict(os.environ)
        for name, value in (
            ("AWS_SECRET_ACCESS_KEY", self.aws_secret_access_key),
            ("AZURE_ACCOUNT_KEY", self.azure_account_key),
            ("AZURE_CLIENT_SECRET", self.azure_client_secret),
        ):
            if value:
                env[name] = value
        options, secrets = storage_options_from_env(self.output_fs, env)
        return OutputStore(self.output_fs, options, secrets)


class ParquetIOManager(dg.ConfigurableIOManager):
    """Stores Arrow tables as Parquet under OUTPUT_FS/{asset}/ and loads them as a dataset.

    An asset may return one Arrow table or an iterable of them; each piece becomes its own
    file, so memory stays bounded by the piece, and nothing is ever pickled.
    """

    output: OutputResource

    def handle_output(self, context: dg.OutputContext, obj: pa.Table | Iterable[pa.Table] | None):
        if obj is None:
            return
        store = self.output.store()
        name = context.asset_key.path[-1]
        pieces = [obj] if isinstance(obj, pa.Table) else obj
        rows = files = size = 0
        for i, piece in enumerate(pieces):
            size += store.write_parquet(f"{name}/{context.run_id}-{i:05d}.parquet", piece)
            rows, files = rows + piece.num_rows, files + 1
        context.add_output_metadata({"dagster/row_count": rows, "files": files, "bytes": size})

    def load_input(self, context: dg.InputContext) -> ds.Dataset:
        store = self.output.store()
        name = context.upstream_output.asset_key.path[-1]
        files = [store.path(p) for p in store.list(name, ".parquet")]
        if not store.is_local:
            files = [store.fs._strip_protocol(f) for f in files]
        return ds.dataset(files, format="parquet", filesystem=store.pyarrow_filesystem())
