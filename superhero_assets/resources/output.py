"""The Parquet output on OUTPUT_FS (the io_manager that reads it: resources/io_manager.py)."""

import os

import dagster as dg
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
