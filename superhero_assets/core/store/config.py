"""The output store's settings: which cloud a URL names, and its fsspec options.

The options come from the output's settings, never from the environment here: in Dagster,
dagster-aws's `S3Resource`, dagster-gcp's `GCSResource` and dagster-azure's `ADLS2Resource`
nested in `OutputResource`; in the CLI, the plain settings of the same fields
(core/store/settings.py); plus the few settings those integrations have no field for (a GCS
key file, the emulators' endpoints, an Azure connection string or service principal). This
module only reads their attributes, so it needs neither Dagster nor its integrations.

Every error names the variable to set or fix (`StoreConfigError`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

import fsspec

CLOUDS = {
    "s3": "s3",
    "s3a": "s3",
    "gs": "gcs",
    "gcs": "gcs",
    "az": "azure",
    "abfs": "azure",
    "abfss": "azure",
}

AZURE_DEFAULT_ENDPOINT_SUFFIX = "core.windows.net"  # dagster-azure's default too


class StoreConfigError(ValueError):
    """The output cannot be used as configured; the message names the variable to fix."""


def cloud_of(url: str) -> str | None:
    """'s3', 'gcs', 'azure', or None for a local path."""
    protocol = fsspec.core.split_protocol(url)[0]
    if protocol in (None, "file", "local"):
        return None
    if protocol not in CLOUDS:
        raise StoreConfigError(
            f"OUTPUT_FS {url!r}: unsupported scheme {protocol!r}; use a local path, s3://, "
            "gs://, az:// or abfs://"
        )
    return CLOUDS[protocol]


def _text(value: Any) -> str:
    return (value or "").strip() if isinstance(value, str | None) else str(value)


# --- S3 ----------------------------------------------------------------------------------


def s3_options(s3: Any) -> tuple[dict[str, Any], list[str]]:
    """s3fs options from a dagster_aws.s3.S3Resource, and the secrets among them.

    Without a key, boto's own chain applies (profile_name, ~/.aws), as for S3Resource.
    """
    key = _text(s3.aws_access_key_id)
    secret = _text(s3.aws_secret_access_key)
    if bool(key) != bool(secret):
        missing = "AWS_SECRET_ACCESS_KEY" if key else "AWS_ACCESS_KEY_ID"
        field_name = "aws_secret_access_key" if key else "aws_access_key_id"
        raise StoreConfigError(
            f"{missing} (S3Resource.{field_name}) is not set, but its partner is; set both "
            "or neither."
        )
    options: dict[str, Any] = {
        "config_kwargs": {
            "connect_timeout": 10,
            "read_timeout": 60,
            "retries": {"max_attempts": s3.max_attempts, "mode": "standard"},
        },
        "client_kwargs": {},
    }
    secrets = []
    if s3.use_unsigned_session:
        options["anon"] = True
    if key:
        options.update(key=key, secret=secret)
        secrets.append(secret)
        token = _text(s3.aws_session_token)
        if token:
            options["token"] = token
            secrets.append(token)
    if s3.profile_name:
        options["profile"] = s3.profile_name
    endpoint = _text(s3.endpoint_url)
    region = _text(s3.region_name)
    if endpoint:
        options["client_kwargs"]["endpoint_url"] = endpoint
        region = region or "us-east-1"
    if region:
        options["client_kwargs"]["region_name"] = region
    if not s3.use_ssl:
        options["use_ssl"] = False
    if s3.verify is not None:
        options["client_kwargs"]["verify"] = s3.verify
    return options, secrets


# --- GCS ---------------------------------------------------------------------------------


def gcs_options(
    gcs: Any, endpoint_url: str | None = None, credentials_file: str | None = None
) -> tuple[dict[str, Any], list[str]]:
    """gcsfs options from a dagster_gcp.GCSResource (its project), a service-account key
    file (else application default credentials) and an emulator's endpoint."""
    options: dict[str, Any] = {}
    project = _text(gcs.project)
    if project:
        options["project"] = project
    endpoint = _text(endpoint_url)
    key_file = _text(credentials_file)
    if endpoint:
        options["endpoint_url"] = endpoint
    if key_file:
        if not os.path.isfile(key_file):
            raise StoreConfigError(
                "GOOGLE_APPLICATION_CREDENTIALS names a service-account file that does not "
                f"exist: {key_file}"
            )
        _check_google_key_file(key_file)
        options["token"] = key_file
    elif endpoint:
        options["token"] = "anon"  # emulators take no credentials
    else:
        # Application default credentials (gcloud auth application-default login, or the
        # workload's identity). Never gcsfs's "cloud" method, which asks the metadata server.
        options["token"] = "google_default"
    return options, []


def _check_google_key_file(path: str) -> None:
    """Refuse a key file gcsfs would misread, before any request (no secret in the message)."""
    try:
        with open(path) as fh:
            info = json.load(fh)
    except (OSError, ValueError):
        info = None
    needed = {
        "service_account": ("client_email", "private_key", "token_uri"),
        "authorized_user": ("client_id", "client_secret", "refresh_token"),
    }
    kind = info.get("type") if isinstance(info, dict) else None
    missing = [k for k in needed.get(kind, ()) if not info.get(k)] if kind in needed else None
    if missing is None or missing:
        what = f"lacks {', '.join(missing)}" if missing else "is not a Google key file"
        raise StoreConfigError(
            f"GOOGLE_APPLICATION_CREDENTIALS {path} {what}; download a service-account key "
            "(JSON) for the loader's service account (see cloud/gcp)."
        )


# --- Azure -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServicePrincipal:
    """An Entra ID service principal: what azure-identity's EnvironmentCredential reads."""

    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)

    def given(self) -> dict[str, str]:
        return {
            "AZURE_TENANT_ID": _text(self.tenant_id),
            "AZURE_CLIENT_ID": _text(self.client_id),
            "AZURE_CLIENT_SECRET": _text(self.client_secret),
        }


def azure_options(
    adls2: Any,
    endpoint_url: str | None = None,
    connection_string: str | None = None,
    service_principal: ServicePrincipal | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """adlfs options from a dagster_azure.adls2.ADLS2Resource and what it has no field for.

    In order: a connection string; the resource's ADLS2Key or ADLS2SASToken; a service
    principal (with ADLS2DefaultAzureCredential, whose EnvironmentCredential it is, signed
    in without the rest of that chain, which would ask a metadata address); else
    DefaultAzureCredential with the credential's kwargs. endpoint_url (Azurite) replaces the
    account's https://{account}.blob.{endpoint_suffix}.
    """
    connection_string = _text(connection_string)
    if connection_string:
        return {"connection_string": connection_string}, [connection_string]
    if adls2 is None:
        raise StoreConfigError(
            "AZURE_ACCOUNT_NAME is not set: name the storage account that holds the container "
            "(or set AZURE_STORAGE_CONNECTION_STRING)."
        )
    account = _text(adls2.storage_account)
    if not account:
        raise StoreConfigError(
            "AZURE_ACCOUNT_NAME (ADLS2Resource.storage_account) is empty: name the storage "
            "account that holds the container."
        )
    endpoint = _text(endpoint_url).rstrip("/")
    suffix = _text(adls2.endpoint_suffix) or AZURE_DEFAULT_ENDPOINT_SUFFIX
    if endpoint:
        host = endpoint.split("://", 1)[-1].split("/", 1)[0]
    elif suffix != AZURE_DEFAULT_ENDPOINT_SUFFIX:
        host = f"{account}.blob.{suffix}"
    else:
        host = ""
    at_host = {"account_host": host} if host else {}
    credential = adls2.credential
    kind = getattr(credential, "credential_type", None)

    if kind == "key" and _text(credential.key):
        key = _text(credential.key)
        if endpoint:
            scheme = endpoint.split("://", 1)[0]
            cs = (
                f"DefaultEndpointsProtocol={scheme};AccountName={account};AccountKey={key};"
                f"BlobEndpoint={endpoint};"
            )
            return {"connection_string": cs}, [key, cs]
        return {"account_name": account, "account_key": key, **at_host}, [key]
    if kind == "sas" and _text(credential.token):
        token = _text(credential.token)
        return {"account_name": account, "sas_token": token, **at_host}, [token]

    sp = (service_principal or ServicePrincipal()).given()
    if any(sp.values()):
        missing = [name for name, value in sp.items() if not value]
        if missing:
            raise StoreConfigError(
                f"{', '.join(missing)} not set: a service principal needs AZURE_TENANT_ID, "
                "AZURE_CLIENT_ID and AZURE_CLIENT_SECRET."
            )
        options: dict[str, Any] = {
            "account_name": account,
            "tenant_id": sp["AZURE_TENANT_ID"],
            "client_id": sp["AZURE_CLIENT_ID"],
            "client_secret": sp["AZURE_CLIENT_SECRET"],
            **at_host,
        }
        return options, [sp["AZURE_CLIENT_SECRET"]]
    if kind == "default_azure_credential":
        # The user's explicit choice: adlfs hands these kwargs to DefaultAzureCredential.
        return {"account_name": account, "anon": False, **credential.kwargs, **at_host}, []
    raise StoreConfigError(
        "no Azure credentials: set AZURE_ACCOUNT_KEY, or the service principal's "
        "AZURE_TENANT_ID / AZURE_CLIENT_ID / AZURE_CLIENT_SECRET."
    )
