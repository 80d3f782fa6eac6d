"""The Redis that holds the loader's Kafka offsets and run locks."""

import dagster as dg
import redis
from pydantic import Field


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
