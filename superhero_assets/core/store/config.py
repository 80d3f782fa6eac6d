"""The output store's settings: which cloud a URL names, and its credentials from the environment.

Every error names the variable to set or fix (`StoreConfigError`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
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


def _get(env: Mapping[str, str], *names: str) -> str:
    for name in names:
        value = (env.get(name) or "").strip()
        if value:
            return value
    return ""


def storage_options_from_env(
    url: str, env: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The fsspec options for url from the original's variables, and the secrets among them.

    s3://   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (AWS_SESSION_TOKEN), AWS_REGION,
            endpoint AWS_ENDPOINT_URL (SeaweedFS, MinIO, any S3-compatible store). Without a
            key, boto's own chain (AWS_PROFILE, ~/.aws) applies.
    gs://   GCP_PROJECT_ID, a service-account file in GOOGLE_APPLICATION_CREDENTIALS or else
            application default credentials; endpoint STORAGE_EMULATOR_HOST.
    az://   AZURE_ACCOUNT_NAME with AZURE_ACCOUNT_KEY, or a service principal
            AZURE_TENANT_ID / AZURE_CLIENT_ID / AZURE_CLIENT_SECRET, or
            AZURE_STORAGE_CONNECTION_STRING; endpoint AZURE_STORAGE_ENDPOINT (Azurite).
    """
    env = os.environ if env is None else env
    cloud = cloud_of(url)
    if cloud is None:
        return {}, []
    if cloud == "s3":
        return _s3_options(env)
    if cloud == "gcs":
        return _gcs_options(env)
    return _azure_options(env)


def _s3_options(env: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    key = _get(env, "AWS_ACCESS_KEY_ID")
    secret = _get(env, "AWS_SECRET_ACCESS_KEY")
    if bool(key) != bool(secret):
        missing = "AWS_SECRET_ACCESS_KEY" if key else "AWS_ACCESS_KEY_ID"
        raise StoreConfigError(f"{missing} is not set, but its partner is; set both or neither.")
    options: dict[str, Any] = {
        "config_kwargs": {
            "connect_timeout": 10,
            "read_timeout": 60,
            "retries": {"max_attempts": 3, "mode": "standard"},
        },
        "client_kwargs": {},
    }
    secrets = []
    if key:
        options.update(key=key, secret=secret)
        secrets.append(secret)
        token = _get(env, "AWS_SESSION_TOKEN")
        if token:
            options["token"] = token
            secrets.append(token)
    endpoint = _get(env, "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
    region = _get(env, "AWS_REGION", "AWS_DEFAULT_REGION")
    if endpoint:
        options["client_kwargs"]["endpoint_url"] = endpoint
        region = region or "us-east-1"
    if region:
        options["client_kwargs"]["region_name"] = region
    return options, secrets


def _gcs_options(env: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    options: dict[str, Any] = {}
    project = _get(env, "GCP_PROJECT_ID", "GOOGLE_CLOUD_PROJECT")
    if project:
        options["project"] = project
    endpoint = _get(env, "STORAGE_EMULATOR_HOST")
    key_file = _get(env, "GOOGLE_APPLICATION_CREDENTIALS")
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


def _azure_options(env: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    connection_string = _get(env, "AZURE_STORAGE_CONNECTION_STRING")
    if connection_string:
        return {"connection_string": connection_string}, [connection_string]
    account = _get(env, "AZURE_ACCOUNT_NAME", "AZURE_STORAGE_ACCOUNT_NAME")
    key = _get(env, "AZURE_ACCOUNT_KEY", "AZURE_STORAGE_ACCOUNT_KEY")
    tenant, client, client_secret = (
        _get(env, "AZURE_TENANT_ID"),
        _get(env, "AZURE_CLIENT_ID"),
        _get(env, "AZURE_CLIENT_SECRET"),
    )
    endpoint = _get(env, "AZURE_STORAGE_ENDPOINT").rstrip("/")
    if not account:
        raise StoreConfigError(
            "AZURE_ACCOUNT_NAME is not set: name the storage account that holds the container "
            "(or set AZURE_STORAGE_CONNECTION_STRING)."
        )
    if key:
        if endpoint:
            scheme = endpoint.split("://", 1)[0]
            cs = (
                f"DefaultEndpointsProtocol={scheme};AccountName={account};AccountKey={key};"
                f"BlobEndpoint={endpoint};"
            )
            return {"connection_string": cs}, [key, cs]
        return {"account_name": account, "account_key": key}, [key]
    sp = {
        "AZURE_TENANT_ID": tenant,
        "AZURE_CLIENT_ID": client,
        "AZURE_CLIENT_SECRET": client_secret,
    }
    if any(sp.values()):
        missing = [name for name, value in sp.items() if not value]
        if missing:
            raise StoreConfigError(
                f"{', '.join(missing)} not set: a service principal needs AZURE_TENANT_ID, "
                "AZURE_CLIENT_ID and AZURE_CLIENT_SECRET."
            )
        options: dict[str, Any] = {
            "account_name": account,
            "tenant_id": tenant,
            "client_id": client,
            "client_secret": client_secret,
        }
        if endpoint:
            options["account_host"] = endpoint.split("://", 1)[-1].split("/", 1)[0]
        return options, [client_secret]
    raise StoreConfigError(
        "no Azure credentials: set AZURE_ACCOUNT_KEY, or the service principal's "
        "AZURE_TENANT_ID / AZURE_CLIENT_ID / AZURE_CLIENT_SECRET."
    )
