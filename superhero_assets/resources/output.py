"""The Parquet output on OUTPUT_FS (the io_manager that reads it: resources/io_manager.py)."""

import dagster as dg
from dagster_aws.s3 import S3Resource
from dagster_azure.adls2 import ADLS2Resource
from dagster_gcp import GCSResource
from pydantic import Field

from superhero_assets.core.store import settings as store_settings
from superhero_assets.core.store.output_store import OutputStore

_CREDENTIAL_FIELDS = {
    "s3": ("aws_access_key_id", "aws_secret_access_key", "aws_session_token"),
    "adls2": ("credential",),
}


class _Redacted:
    """A nested resource's repr without its credentials."""

    def __init__(self, resource: dg.ConfigurableResource, hidden: tuple[str, ...]) -> None:
        self.resource, self.hidden = resource, hidden

    def __repr__(self) -> str:
        shown = [f"{k}={v!r}" for k, v in self.resource if k not in self.hidden]
        return f"{type(self.resource).__name__}({', '.join([*shown, '...'])})"


class OutputResource(dg.ConfigurableResource):
    """Where the tables live: OUTPUT_FS, a local path or an s3://, gs://, az:// URL.

    The object store's credentials and client settings are Dagster's own integrations:
    `s3` (dagster-aws), `gcs` (dagster-gcp) and `adls2` (dagster-azure), used for the
    cloud output_fs names; the other fields are what those have no field for.
    superhero_assets/config.py builds them from the environment's settings, secrets as
    dg.EnvVar, so Dagster shows only a variable's name, never its value.
    """

    output_fs: str = Field(default="./data", description="OUTPUT_FS root of every table.")
    s3: S3Resource | None = Field(
        default=None,
        description="s3:// credentials and client settings (AWS_*); unset: boto's own chain.",
    )
    gcs: GCSResource | None = Field(
        default=None,
        description="gs:// project (GCP_PROJECT_ID); unset: application default credentials.",
    )
    adls2: ADLS2Resource | None = Field(
        default=None,
        description="az:// storage account (AZURE_ACCOUNT_NAME) and credential "
        "(AZURE_ACCOUNT_KEY as ADLS2Key, a service principal as ADLS2DefaultAzureCredential).",
    )
    gcs_credentials_file: str | None = Field(
        default=None,
        description="Service-account key file (GOOGLE_APPLICATION_CREDENTIALS).",
    )
    gcs_endpoint_url: str | None = Field(
        default=None, description="A GCS emulator (STORAGE_EMULATOR_HOST)."
    )
    azure_endpoint_url: str | None = Field(
        default=None,
        description="Blob endpoint replacing the account's, e.g. Azurite's "
        "(AZURE_STORAGE_ENDPOINT).",
    )
    azure_connection_string: str | None = Field(
        default=None,
        description="AZURE_STORAGE_CONNECTION_STRING, as dg.EnvVar; wins over adls2.",
        repr=False,
    )
    azure_tenant_id: str | None = Field(
        default=None, description="Service principal's tenant (AZURE_TENANT_ID)."
    )
    azure_client_id: str | None = Field(
        default=None, description="Service principal's client id (AZURE_CLIENT_ID)."
    )
    azure_client_secret: str | None = Field(
        default=None,
        description="Service principal's secret (AZURE_CLIENT_SECRET), as dg.EnvVar.",
        repr=False,
    )

    def __repr_args__(self):
        # Outside Dagster the integrations hold the secrets' values, and print them.
        for name, value in super().__repr_args__():
            hidden = _CREDENTIAL_FIELDS.get(name)
            yield name, _Redacted(value, hidden) if hidden and value is not None else value

    def storage_options(self) -> tuple[dict, list[str]]:
        """The store's fsspec options for output_fs, and the secrets among them."""
        return store_settings.storage_options(self)

    def store(self) -> OutputStore:
        options, secrets = self.storage_options()
        return OutputStore(self.output_fs, options, secrets)
