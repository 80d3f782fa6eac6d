"""Dagster definitions for superhero-dataflow: wiring only; the logic lives in plain modules."""

import os

import dagster as dg

from superhero_assets.assets import ALL_CHECKS, ELT_ASSETS
from superhero_assets.resources import (
    BatchLoaderResource,
    KafkaResource,
    OutputResource,
    ParquetIOManager,
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
)
redis_state = RedisStateResource(
    host=os.getenv("REDIS_HOST", "localhost"),
    port=int(os.getenv("REDIS_PORT", "6379")),
    db=int(os.getenv("REDIS_DB", "0")),
    password=_secret("REDIS_PASSWORD"),
    ssl=os.getenv("REDIS_SSL", "false").lower() in ("1", "true", "yes"),
)
output = OutputResource(output_fs=os.getenv("OUTPUT_FS", "./data"))

defs = dg.Definitions(
    assets=ELT_ASSETS,
    asset_checks=ALL_CHECKS,
    # The steps run one after another anyway; one process spares a Python start-up per step.
    executor=dg.in_process_executor,
    resources={
        "loader": BatchLoaderResource(
            kafka=kafka,
            redis_state=redis_state,
            output=output,
            lock_ttl_s=int(os.getenv("ELT_LOCK_TTL_S", "600")),
            # The benchmark loads its own topics; everyone else loads the game's two.
            topics=os.getenv("SUPERHERO_TOPICS", "lib.server.lobby,lib.server.game").split(","),
        ),
        "io_manager": ParquetIOManager(output_fs=os.getenv("OUTPUT_FS", "./data")),
    },
)
