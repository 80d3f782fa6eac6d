"""The output's settings as plain data: OUTPUT_FS and the object store's client settings.

Their fields are named as Dagster's integrations name them (dagster-aws's S3Resource,
dagster-gcp's GCSResource, dagster-azure's ADLS2Resource and its credentials), so
superhero_assets/config.py hands them to those resources field for field, and config.py
here reads either kind the same way (`storage_options`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from superhero_assets.core.store import config as store_config
from superhero_assets.core.store.output_store import OutputStore

AZURE_DEFAULT_ENDPOINT_SUFFIX = store_config.AZURE_DEFAULT_ENDPOINT_SUFFIX


@dataclass(frozen=True)
class S3Settings:
    """S3Resource's fields, with its defaults (botocore's own chain without a key)."""

    aws_access_key_id: str | None = field(default=None, repr=False)
    aws_secret_access_key: str | None = field(default=None, repr=False)
    aws_session_token: str | None = field(default=None, repr=False)
    region_name: str | None = None
    endpoint_url: str | None = None
    profile_name: str | None = None
    max_attempts: int = 5
    use_unsigned_session: bool = False
    use_ssl: bool = True
    verify: bool | str | None = None


@dataclass(frozen=True)
class GcsSettings:
    """GCSResource's field: the project (credentials are the output's own fields)."""

    project: str | None = None


@dataclass(frozen=True)
class AzureKey:
    """ADLS2Key: the storage account's key."""

    key: str | None = field(default=None, repr=False)
    credential_type: Literal["key"] = "key"


@dataclass(frozen=True)
class AzureDefaultCredential:
    """ADLS2DefaultAzureCredential: azure-identity's chain, with its kwargs."""

    kwargs: dict[str, Any] = field(default_factory=dict)
    credential_type: Literal["default_azure_credential"] = "default_azure_credential"


@dataclass(frozen=True)
class AdlsSettings:
    """ADLS2Resource's fields: the storage account and its credential."""

    storage_account: str
    credential: AzureKey | AzureDefaultCredential
    endpoint_suffix: str = AZURE_DEFAULT_ENDPOINT_SUFFIX


@dataclass(frozen=True)
class OutputSettings:
    """Where the tables live (OutputResource's fields): OUTPUT_FS and its cloud's client."""

    output_fs: str = "./data"
    s3: S3Settings | None = None
    gcs: GcsSettings | None = None
    adls2: AdlsSettings | None = None
    gcs_credentials_file: str | None = None
    gcs_endpoint_url: str | None = None
    azure_endpoint_url: str | None = None
    azure_connection_string: str | None = field(default=None, repr=False)
    azure_tenant_id: str | None = None
    azure_client_id: str | None = None
    azure_client_secret: str | None = field(default=None, repr=False)

    def storage_options(self) -> tuple[dict[str, Any], list[str]]:
        """The store's fsspec options for output_fs, and the secrets among them."""
        return storage_options(self)

    def store(self) -> OutputStore:
        options, secrets = self.storage_options()
        return OutputStore(self.output_fs, options, secrets)


def storage_options(output: Any) -> tuple[dict[str, Any], list[str]]:
    """The fsspec options of an OutputSettings or an OutputResource (the same fields)."""
    cloud = store_config.cloud_of(output.output_fs)
    if cloud == "s3":
        return store_config.s3_options(output.s3 or S3Settings())
    if cloud == "gcs":
        return store_config.gcs_options(
            output.gcs or GcsSettings(), output.gcs_endpoint_url, output.gcs_credentials_file
        )
    if cloud == "azure":
        return store_config.azure_options(
            output.adls2,
            output.azure_endpoint_url,
            output.azure_connection_string,
            store_config.ServicePrincipal(
                output.azure_tenant_id, output.azure_client_id, output.azure_client_secret
            ),
        )
    return {}, []
