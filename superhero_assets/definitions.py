"""Dagster definitions for superhero-dataflow: wiring only; the logic lives in plain modules."""

import os

import dagster as dg

from superhero_assets.assets import ALL_CHECKS, ELT_ASSETS, FreshnessLimits, tables_are_fresh
from superhero_assets.assets.recovery import release_locks_of_failed_runs
from superhero_assets.assets.sensors import LagPolicy, build_lag_sensor, elt_job
from superhero_assets.core.contract import SOURCE_TOPICS
from superhero_assets.core.names import absolute_output_fs
from superhero_assets.resources import (
    BatchLoaderResource,
    KafkaResource,
    OutputResource,
    ParquetTablesIOManager,
    RedisStateResource,
)


def _secret(name: str) -> dg.EnvVar | None:
    """Secrets only ever come from the environment, and only when set."""
    return dg.EnvVar(name) if os.getenv(name) else None


kafka = KafkaResource(
    bootstrap_servers=os.getenv("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092"),
    security_protocol=os.getenv("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT"),
    sasl_mechanism=os.getenv("KAFKA_SASL_MECHANISM") or None,
    sasl_username=_secret("KAFKA_SASL_USERNAME"),
    sasl_password=_secret("KAFKA_SASL_PASSWORD"),
    ssl_ca_location=os.getenv("KAFKA_SSL_CA_LOCATION") or None,
)
redis_state = RedisStateResource(
    host=os.getenv("REDIS_HOST", "localhost"),
    port=int(os.getenv("REDIS_PORT", "6379")),
    db=int(os.getenv("REDIS_DB", "0")),
    password=_secret("REDIS_PASSWORD"),
    ssl=os.getenv("REDIS_SSL", "false").lower() in ("1", "true", "yes"),
    ssl_ca_certs=os.getenv("REDIS_SSL_CA_CERTS") or None,
)
output = OutputResource(
    output_fs=absolute_output_fs(os.getenv("OUTPUT_FS", "")),
    aws_secret_access_key=_secret("AWS_SECRET_ACCESS_KEY"),
    azure_account_key=_secret("AZURE_ACCOUNT_KEY"),
    azure_client_secret=_secret("AZURE_CLIENT_SECRET"),
)

defs = dg.Definitions(
    assets=ELT_ASSETS,
    jobs=[elt_job],
    sensors=[
        build_lag_sensor(int(os.getenv("SENSOR_INTERVAL_S", "10"))),
        release_locks_of_failed_runs,
    ],
    asset_checks=[*ALL_CHECKS, tables_are_fresh],
    # The steps run one after another anyway; one process spares a Python start-up per step.
    executor=dg.in_process_executor,
    resources={
        "loader": BatchLoaderResource(
            kafka=kafka,
            redis_state=redis_state,
            output=output,
            lock_ttl_s=int(os.getenv("ELT_LOCK_TTL_S", "30")),
            source_topics=os.getenv("SUPERHERO_TOPICS", ",".join(SOURCE_TOPICS)).split(","),
        ),
        "io_manager": ParquetTablesIOManager(output=output),
        "lag_policy": LagPolicy(
            lag_threshold=int(os.getenv("SENSOR_LAG_THRESHOLD", "1000")),
            max_age_s=float(os.getenv("SENSOR_MAX_AGE_S", "30")),
        ),
        "freshness_limits": FreshnessLimits(
            warn_after_s=float(os.getenv("FRESH_WARN_S", "300")),
            fail_after_s=float(os.getenv("FRESH_FAIL_S", "900")),
        ),
    },
)
