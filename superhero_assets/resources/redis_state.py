"""The Redis that holds the loader's Kafka offsets and run locks."""

import dagster as dg
import redis
from pydantic import Field

from superhero_assets.core.settings import RedisSettings, settings_of


class RedisStateResource(dg.ConfigurableResource):
    """Redis connection for the offset state (the original README's keys)."""

    host: str = Field(default="localhost", description="REDIS_HOST")
    port: int = Field(default=6379, description="REDIS_PORT")
    db: int = Field(default=0, description="REDIS_DB")
    password: str | None = Field(
        default=None, description="REDIS_PASSWORD, via dg.EnvVar.", repr=False
    )
    ssl: bool = Field(default=False, description="Connect with TLS (REDIS_SSL).")
    ssl_ca_certs: str | None = Field(default=None, description="CA bundle for TLS.")

    def client(self) -> redis.Redis:
        return settings_of(self, RedisSettings).client()
