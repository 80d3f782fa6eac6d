"""The environment's variables, read into the settings: the one place the loader's are read.

superhero_assets/config.py reads through these with secrets as `dg.EnvVar` and makes
Dagster's resources of the result; the CLI, the worker and the bench take the settings
themselves (`for_cli`), without importing Dagster.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from superhero_assets.core import contract
from superhero_assets.core.names import absolute_output_fs
from superhero_assets.core.settings import Env, KafkaSettings, LoaderSettings, RedisSettings
from superhero_assets.core.store.config import StoreConfigError, cloud_of
from superhero_assets.core.store.settings import (
    AdlsSettings,
    AzureDefaultCredential,
    AzureKey,
    GcsSettings,
    OutputSettings,
    S3Settings,
)

# The S3 client retries a request this often in all (botocore's "standard" mode).
S3_MAX_ATTEMPTS = 3


def _env(env: Mapping[str, str] | Env | None) -> Env:
    return env if isinstance(env, Env) else Env(env)


def kafka(env: Mapping[str, str] | Env | None = None) -> KafkaSettings:
    e = _env(env)
    return KafkaSettings(
        bootstrap_servers=e.text("KAFKA_BOOTSTRAP_SERVERS", default="localhost:9092"),
        security_protocol=e.text("KAFKA_SECURITY_PROTOCOL", default="PLAINTEXT"),
        sasl_mechanism=e.text("KAFKA_SASL_MECHANISM"),
        sasl_username=e.secret("KAFKA_SASL_USERNAME"),
        sasl_password=e.secret("KAFKA_SASL_PASSWORD"),
        ssl_ca_location=e.text("KAFKA_SSL_CA_LOCATION"),
    )


def redis_state(env: Mapping[str, str] | Env | None = None) -> RedisSettings:
    e = _env(env)
    return RedisSettings(
        host=e.text("REDIS_HOST", default="localhost"),
        port=e.number("REDIS_PORT", 6379),
        db=e.number("REDIS_DB", 0),
        password=e.secret("REDIS_PASSWORD"),
        ssl=e.flag("REDIS_SSL"),
        ssl_ca_certs=e.text("REDIS_SSL_CA_CERTS"),
    )


def output(env: Mapping[str, str] | Env | None = None) -> OutputSettings:
    """OUTPUT_FS, with the client settings of the cloud it names, and nothing else.

    s3://   aws_access_key_id AWS_ACCESS_KEY_ID, aws_secret_access_key
            AWS_SECRET_ACCESS_KEY, aws_session_token AWS_SESSION_TOKEN (secrets),
            region_name AWS_REGION (AWS_DEFAULT_REGION), endpoint_url AWS_ENDPOINT_URL_S3
            or AWS_ENDPOINT_URL (SeaweedFS, MinIO), profile_name AWS_PROFILE. Without a key,
            boto's own chain (AWS_PROFILE, ~/.aws) applies.
    gs://   project GCP_PROJECT_ID (GOOGLE_CLOUD_PROJECT); gcs_credentials_file
            GOOGLE_APPLICATION_CREDENTIALS (else application default credentials),
            gcs_endpoint_url STORAGE_EMULATOR_HOST.
    az://   storage_account AZURE_ACCOUNT_NAME (AZURE_STORAGE_ACCOUNT_NAME); credential
            the key AZURE_ACCOUNT_KEY or, for a service principal (AZURE_TENANT_ID,
            AZURE_CLIENT_ID, AZURE_CLIENT_SECRET: dagster-azure has no field for a client
            secret), azure-identity's chain. azure_endpoint_url AZURE_STORAGE_ENDPOINT
            (Azurite), azure_connection_string AZURE_STORAGE_CONNECTION_STRING (it wins).

    Nothing here fails on a missing or half-given credential: the store says what to fix
    when it is first used (core/store/config.py), so Dagster's definitions always load.
    """
    e = _env(env)
    root = absolute_output_fs(e.text("OUTPUT_FS") or "")
    try:
        cloud = cloud_of(root)
    except StoreConfigError:
        cloud = None  # refused, naming OUTPUT_FS, when the store is first used
    fields: dict[str, Any] = {}
    if cloud == "s3":
        fields["s3"] = S3Settings(
            aws_access_key_id=e.secret("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=e.secret("AWS_SECRET_ACCESS_KEY"),
            aws_session_token=e.secret("AWS_SESSION_TOKEN"),
            region_name=e.text("AWS_REGION", "AWS_DEFAULT_REGION"),
            endpoint_url=e.text("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"),
            profile_name=e.text("AWS_PROFILE"),
            max_attempts=S3_MAX_ATTEMPTS,
        )
    elif cloud == "gcs":
        fields.update(
            gcs=GcsSettings(project=e.text("GCP_PROJECT_ID", "GOOGLE_CLOUD_PROJECT")),
            gcs_credentials_file=e.text("GOOGLE_APPLICATION_CREDENTIALS"),
            gcs_endpoint_url=e.text("STORAGE_EMULATOR_HOST"),
        )
    elif cloud == "azure":
        fields.update(
            azure_endpoint_url=e.text("AZURE_STORAGE_ENDPOINT"),
            azure_connection_string=e.secret("AZURE_STORAGE_CONNECTION_STRING"),
            azure_tenant_id=e.text("AZURE_TENANT_ID"),
            azure_client_id=e.text("AZURE_CLIENT_ID"),
            azure_client_secret=e.secret("AZURE_CLIENT_SECRET"),
        )
        account = e.text("AZURE_ACCOUNT_NAME", "AZURE_STORAGE_ACCOUNT_NAME")
        if account:
            key = e.secret("AZURE_ACCOUNT_KEY", "AZURE_STORAGE_ACCOUNT_KEY")
            service_principal = any(
                fields[f] for f in ("azure_tenant_id", "azure_client_id", "azure_client_secret")
            )
            credential: AzureKey | AzureDefaultCredential
            if key or not service_principal:
                credential = AzureKey(key=key)  # no key: the store says what to set
            else:
                credential = AzureDefaultCredential()
            fields["adls2"] = AdlsSettings(storage_account=account, credential=credential)
    return OutputSettings(output_fs=root, **fields)


def source_topics(e: Env) -> list[str]:
    raw = e.text("SUPERHERO_TOPICS") or ",".join(contract.SOURCE_TOPICS)
    return [t.strip() for t in raw.split(",") if t.strip()]


def loader_fields(e: Env) -> dict[str, Any]:
    """The loader's knobs the environment sets (the CLI's flags go over them)."""
    return {"source_topics": source_topics(e), "lock_ttl_s": e.number("ELT_LOCK_TTL_S", 30)}


def for_cli(
    env: Mapping[str, str] | None = None, *, output_fs: str | None = None, **loader_knobs: Any
) -> LoaderSettings:
    """The loader's settings outside Dagster, secrets as values: its kafka, redis_state and
    output too. output_fs (a command's --output-fs) stands for OUTPUT_FS."""
    values = dict(os.environ if env is None else env)
    if output_fs is not None:
        values["OUTPUT_FS"] = output_fs
    e = Env(values)
    return LoaderSettings(
        kafka=kafka(e),
        redis_state=redis_state(e),
        output=output(e),
        **{**loader_fields(e), **loader_knobs},
    )


def storage_options_from_env(
    url: str, env: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The store's options for url, as the environment (default: os.environ) gives them."""
    values = dict(os.environ if env is None else env)
    return output({**values, "OUTPUT_FS": url}).storage_options()
