"""The loader's settings as plain typed data: Kafka, Redis, the loader's knobs (no Dagster).

core/environment.py reads them from the environment. superhero_assets/config.py turns them
into Dagster's resources, field for field (secrets as `dg.EnvVar`); the CLI (`superhero
load`, `lag`, `output adopt`), the worker and the bench use them as they are, so a command
starts without importing Dagster. A resource builds its client through the settings class
of its fields (`settings_of`), so both paths connect the same way.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Protocol, TypeVar

import redis

from superhero_assets.core import contract
from superhero_assets.core.run.pipeline import Loader, LoaderConfig
from superhero_assets.core.run.shard import Shard
from superhero_assets.core.store.output_store import OutputStore

# The variables whose values are secrets: to Dagster always as dg.EnvVar, never printed.
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


class Env:
    """One environment mapping. secret_as wraps a secret's variable name (Dagster passes
    dg.EnvVar, so it sees names, never values); without it a secret is its value."""

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        secret_as: Callable[[str], str] | None = None,
    ) -> None:
        self.env = os.environ if env is None else env
        self.secret_as = secret_as

    def text(self, *names: str, default: str | None = None) -> str | None:
        """The first of names that is set (not blank), stripped; else default."""
        for name in names:
            value = (self.env.get(name) or "").strip()
            if value:
                return value
        return default

    def secret(self, *names: str) -> str | None:
        """The first of names that is set, as secret_as(name) or as its value."""
        assert all(name in SECRETS for name in names), names
        for name in names:
            value = self.env.get(name) or ""
            if value.strip():
                return self.secret_as(name) if self.secret_as else value
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


Settings = TypeVar("Settings")


def settings_of(source: Any, cls: type[Settings]) -> Settings:
    """cls built from the same-named attributes of source (a resource of the same fields)."""
    return cls(**{f.name: getattr(source, f.name) for f in fields(cls)})  # type: ignore[arg-type]


def field_values(settings: Any) -> dict[str, Any]:
    """A settings object's fields, one level deep (nested settings stay objects)."""
    return {f.name: getattr(settings, f.name) for f in fields(settings)}


@dataclass(frozen=True)
class KafkaSettings:
    """Kafka connection: bootstrap servers plus any librdkafka setting, security included."""

    bootstrap_servers: str = "localhost:9092"
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = field(default=None, repr=False)
    sasl_password: str | None = field(default=None, repr=False)
    ssl_ca_location: str | None = None
    extra_config: dict[str, str] = field(default_factory=dict)

    def client_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.security_protocol,
        }
        optional = {
            "sasl.mechanism": self.sasl_mechanism,
            "sasl.username": self.sasl_username,
            "sasl.password": self.sasl_password,
            "ssl.ca.location": self.ssl_ca_location,
        }
        config.update({k: v for k, v in optional.items() if v})
        config.update(self.extra_config)
        return config


@dataclass(frozen=True)
class RedisSettings:
    """The Redis that holds the offsets and run locks."""

    host: str = "localhost"
    port: int = 6379
    db: int = 0
    password: str | None = field(default=None, repr=False)
    ssl: bool = False
    ssl_ca_certs: str | None = None

    def client(self) -> redis.Redis:
        return redis.Redis(
            host=self.host,
            port=self.port,
            db=self.db,
            password=self.password or None,
            ssl=self.ssl,
            ssl_ca_certs=self.ssl_ca_certs,
            socket_timeout=30,
            socket_connect_timeout=10,
            health_check_interval=30,
        )


class _Kafka(Protocol):
    def client_config(self) -> dict[str, Any]: ...


class _Redis(Protocol):
    def client(self) -> redis.Redis: ...


class _Output(Protocol):
    def store(self) -> OutputStore: ...


@dataclass(frozen=True)
class LoaderSettings:
    """The batch loader: Kafka, the Redis state and the output, with the run's knobs.

    kafka, redis_state and output are settings here, Dagster's resources in
    BatchLoaderResource; either builds the same clients.
    """

    kafka: _Kafka
    redis_state: _Redis
    output: _Output
    source_topics: list[str] = field(default_factory=lambda: list(contract.SOURCE_TOPICS))
    chunk_messages: int = 100_000
    batch_messages: int = 10_000
    lock_ttl_s: int = 30
    return_memory: bool = True

    def topics(self) -> tuple[str, ...]:
        return tuple(self.source_topics)

    def loader(self, log: logging.Logger | None = None, shard: Shard | None = None) -> Loader:
        """The loader of one run; of one shard's partitions, when shard is given."""
        config = LoaderConfig(
            shard=shard or Shard(),
            topics=self.topics(),
            chunk_messages=self.chunk_messages,
            batch_messages=self.batch_messages,
            lock_ttl_s=self.lock_ttl_s,
            return_memory=self.return_memory,
        )
        return Loader(
            self.kafka.client_config(),
            self.redis_state.client(),
            self.output.store(),
            config,
            log or logging.getLogger("superhero.elt"),
        )
