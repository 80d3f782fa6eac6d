"""Kafka and Redis clients from the documented environment variables (for the CLI commands).

The Dagster resources read the same variables in definitions.py, secrets through dg.EnvVar.
"""

from __future__ import annotations

import os
from typing import Any

import redis


def _env(env: dict[str, str] | None) -> dict[str, str]:
    return dict(os.environ if env is None else env)


def redis_from_env(env: dict[str, str] | None = None) -> redis.Redis:
    e = _env(env)
    return redis.Redis(
        host=e.get("REDIS_HOST", "localhost"),
        port=int(e.get("REDIS_PORT", "6379")),
        db=int(e.get("REDIS_DB", "0")),
        password=e.get("REDIS_PASSWORD") or None,
        ssl=e.get("REDIS_SSL", "false").lower() in ("1", "true", "yes"),
        ssl_ca_certs=e.get("REDIS_SSL_CA_CERTS") or None,
        socket_timeout=30,
        socket_connect_timeout=10,
    )


def kafka_config_from_env(env: dict[str, str] | None = None) -> dict[str, Any]:
    e = _env(env)
    config: dict[str, Any] = {
        "bootstrap.servers": e.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092"),
        "security.protocol": e.get("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT"),
    }
    optional = {
        "sasl.mechanism": e.get("KAFKA_SASL_MECHANISM"),
        "sasl.username": e.get("KAFKA_SASL_USERNAME"),
        "sasl.password": e.get("KAFKA_SASL_PASSWORD"),
        "ssl.ca.location": e.get("KAFKA_SSL_CA_LOCATION"),
    }
    config.update({k: v for k, v in optional.items() if v})
    return config
