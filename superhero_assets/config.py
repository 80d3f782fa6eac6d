"""Every resource, built from the environment in this one place.

Dagster's definitions (`for_dagster`) and the CLI (`for_cli`: `superhero load`, `lag`,
`output adopt`, the worker, the bench) take their resources from the same builders, so a
variable means the same wherever it is read, and `superhero load` runs the Loader that
`BatchLoaderResource.loader()` builds.

Secrets are the only difference. Dagster gets them as `dg.EnvVar(name)`, set only when the
variable is, so its UI and run config show the variable's name, never its value, and a run
resolves them itself. Outside Dagster the same builders put in the value, as
`dg.EnvVar(name).get_value()` gives it, read from the same mapping; those objects are never
printed or logged (our own resources leave their secret fields out of `repr`).

The output's object store is configured on Dagster's integrations, built only for the cloud
that OUTPUT_FS names: dagster-aws's `S3Resource`, dagster-gcp's `GCSResource`,
dagster-azure's `ADLS2Resource` (see `output`); core/store/config.py turns them into the
store's fsspec options.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg
from dagster_aws.s3 import S3Resource
from dagster_azure.adls2 import ADLS2DefaultAzureCredential, ADLS2Key, ADLS2Resource
from dagster_gcp import GCSResource

from superhero_assets.core import contract
from superhero_assets.core.names import absolute_output_fs
from superhero_assets.core.store.config import StoreConfigError, cloud_of
from superhero_assets.resources import (
    BatchLoaderResource,
    KafkaResource,
    OutputResource,
    RedisStateResource,
)

# The variables whose values are secrets: to Dagster always as dg.EnvVar.
SECRETS = (
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    "REDIS_PASSWORD",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AZURE_ACCOUNT_KEY",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "AZURE_CLIENT_SECRET",
    "AZURE_STORAGE_CONNECTION_STRING",
)

# The S3 client retries a request this often in all (botocore's "standard" mode).
S3_MAX_ATTEMPTS = 3


class Env:
    """One environment mapping, read the same way for Dagster and for the CLI."""

    def __init__(self, env: Mapping[str, str] | None = None, *, dagster: bool = True) -> None:
        self.env = os.environ if env is None else env
        self.dagster = dagster

    def text(self, *names: str, default: str | None = None) -> str | None:
        """The first of names that is set (not blank), stripped; else default."""
        for name in names:
            value = (self.env.get(name) or "").strip()
            if value:
                return value
        return default

    def secret(self, *names: str) -> str | None:
        """The first of names that is set: dg.EnvVar(name) for Dagster, else its value."""
        assert all(name in SECRETS for name in names), names
        for name in names:
            value = self.env.get(name) or ""
            if value.strip():
                return dg.EnvVar(name) if self.dagster else value
        return None

    def number(self, name: str, default: int) -> int:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"{name} must be a whole number, got {raw!r}") from None

    def seconds(self, name: str, default: float) -> float:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from None

    def flag(self, name: str) -> bool:
        return (self.text(name) or "false").lower() in ("1", "true", "yes")


def _env(env: Mapping[str, str] | Env | None, dagster: bool) -> Env:
    return env if isinstance(env, Env) else Env(env, dagster=dagster)


# --- Kafka and Redis ---------------------------------------------------------------------


def kafka(env: Mapping[str, str] | Env | None = None, *, dagster: bool = True) -> KafkaResource:
    e = _env(env, dagster)
    return KafkaResource(
        bootstrap_servers=e.text("KAFKA_BOOTSTRAP_SERVERS", default="localhost:9092"),
        security_protocol=e.text("KAFKA_SECURITY_PROTOCOL", default="PLAINTEXT"),
        sasl_mechanism=e.text("KAFKA_SASL_MECHANISM"),
        sasl_username=e.secret("KAFKA_SASL_USERNAME"),
        sasl_password=e.secret("KAFKA_SASL_PASSWORD"),
        ssl_ca_location=e.text("KAFKA_SSL_CA_LOCATION"),
    )


def redis_state(
    env: Mapping[str, str] | Env | None = None, *, dagster: bool = True
) -> RedisStateResource:
    e = _env(env, dagster)
    return RedisStateResource(
        host=e.text("REDIS_HOST", default="localhost"),
        port=e.number("REDIS_PORT", 6379),
        db=e.number("REDIS_DB", 0),
        password=e.secret("REDIS_PASSWORD"),
        ssl=e.flag("REDIS_SSL"),
        ssl_ca_certs=e.text("REDIS_SSL_CA_CERTS"),
    )


# --- The output and its object store ------------------------------------------------------


def output(env: Mapping[str, str] | Env | None = None, *, dagster: bool = True) -> OutputResource:
    """OUTPUT_FS, with the integration resource of the cloud it names, and nothing else.

    s3://   S3Resource: aws_access_key_id AWS_ACCESS_KEY_ID, aws_secret_access_key
            AWS_SECRET_ACCESS_KEY, aws_session_token AWS_SESSION_TOKEN (all dg.EnvVar),
            region_name AWS_REGION (AWS_DEFAULT_REGION), endpoint_url AWS_ENDPOINT_URL_S3
            or AWS_ENDPOINT_URL (SeaweedFS, MinIO), profile_name AWS_PROFILE. Without a key,
            boto's own chain (AWS_PROFILE, ~/.aws) applies.
    gs://   GCSResource: project GCP_PROJECT_ID (GOOGLE_CLOUD_PROJECT). Its client reads the
            rest from the environment; the store takes them as fields: gcs_credentials_file
            GOOGLE_APPLICATION_CREDENTIALS (else application default credentials),
            gcs_endpoint_url STORAGE_EMULATOR_HOST.
    az://   ADLS2Resource: storage_account AZURE_ACCOUNT_NAME (AZURE_STORAGE_ACCOUNT_NAME);
            credential ADLS2Key(key=AZURE_ACCOUNT_KEY) or, for a service principal,
            ADLS2DefaultAzureCredential, whose EnvironmentCredential reads AZURE_TENANT_ID,
            AZURE_CLIENT_ID and AZURE_CLIENT_SECRET: dagster-azure has no field for a
            client secret, so those three are OutputResource's azure_tenant_id,
            azure_client_id and azure_client_secret (dg.EnvVar). azure_endpoint_url
            AZURE_STORAGE_ENDPOINT (Azurite), azure_connection_string
            AZURE_STORAGE_CONNECTION_STRING (dg.EnvVar; it wins over the rest).

    Nothing here fails on a missing or half-given credential: the store says what to fix
    when it is first used (core/store/config.py), so the definitions always load.
    """
    e = _env(env, dagster)
    root = absolute_output_fs(e.text("OUTPUT_FS") or "")
    try:
        cloud = cloud_of(root)
    except StoreConfigError:
        cloud = None  # refused, naming OUTPUT_FS, when the store is first used
    fields: dict[str, Any] = {}
    if cloud == "s3":
        fields["s3"] = S3Resource(
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
            gcs=GCSResource(project=e.text("GCP_PROJECT_ID", "GOOGLE_CLOUD_PROJECT")),
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
            if key or not service_principal:
                credential = ADLS2Key(key=key)  # no key: the store says what to set
            else:
                credential = ADLS2DefaultAzureCredential(kwargs={})
            fields["adls2"] = ADLS2Resource(storage_account=account, credential=credential)
    return OutputResource(output_fs=root, **fields)


def storage_options_from_env(
    url: str, env: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The store's options for url, as the OutputResource built from env gives them."""
    e = dict(os.environ if env is None else env)
    return output({**e, "OUTPUT_FS": url}, dagster=False).storage_options()


# --- The loader and the sensor's limits -------------------------------------------------


def source_topics(e: Env) -> list[str]:
    raw = e.text("SUPERHERO_TOPICS") or ",".join(contract.SOURCE_TOPICS)
    return [t.strip() for t in raw.split(",") if t.strip()]


@dataclass(frozen=True)
class Resources:
    """Every resource the definitions and the CLI use, built from one environment."""

    kafka: KafkaResource
    redis_state: RedisStateResource
    output: OutputResource
    loader: BatchLoaderResource
    lag_policy: Any  # assets.sensors.LagPolicy
    freshness_limits: Any  # assets.freshness.FreshnessLimits
    sensor_interval_s: int


def build(
    env: Mapping[str, str] | None = None, *, dagster: bool = True, **loader_fields: Any
) -> Resources:
    """All resources from env (default: os.environ); loader_fields set BatchLoaderResource
    fields over the environment's (the CLI's flags)."""
    from superhero_assets.assets.freshness import FreshnessLimits
    from superhero_assets.assets.sensors import LagPolicy

    e = Env(env, dagster=dagster)
    k, r, o = kafka(e), redis_state(e), output(e)
    fields = {
        "source_topics": source_topics(e),
        "lock_ttl_s": e.number("ELT_LOCK_TTL_S", 30),
        **loader_fields,
    }
    return Resources(
        kafka=k,
        redis_state=r,
        output=o,
        loader=BatchLoaderResource(kafka=k, redis_state=r, output=o, **fields),
        lag_policy=LagPolicy(
            lag_threshold=e.number("SENSOR_LAG_THRESHOLD", 1000),
            max_age_s=e.seconds("SENSOR_MAX_AGE_S", 30),
        ),
        freshness_limits=FreshnessLimits(
            warn_after_s=e.seconds("FRESH_WARN_S", 300),
            fail_after_s=e.seconds("FRESH_FAIL_S", 900),
        ),
        sensor_interval_s=e.number("SENSOR_INTERVAL_S", 10),
    )


def for_dagster(env: Mapping[str, str] | None = None) -> Resources:
    """The definitions' resources: secrets as dg.EnvVar."""
    return build(env, dagster=True)


def for_cli(
    env: Mapping[str, str] | None = None, *, output_fs: str | None = None, **loader_fields: Any
) -> Resources:
    """The same resources for use outside Dagster: secrets as values. output_fs (a
    command's --output-fs) stands for OUTPUT_FS."""
    e = dict(os.environ if env is None else env)
    if output_fs is not None:
        e["OUTPUT_FS"] = output_fs
    return build(e, dagster=False, **loader_fields)
