"""The Redis that holds the loader's Kafka offsets."""

import dagster as dg
import redis
from pydantic import Field


class RedisStateResource(dg.ConfigurableResource):
    """Redis connection for the offset state; defaults match `superhero stack up`."""

    host: str = Field(default="127.0.0.1", description="REDIS_HOST")
    port: int = Field(default=6379, description="REDIS_PORT")
    password: str | None = Field(default=None, description="REDIS_PASSWORD, via dg.EnvVar")

    def client(self) -> redis.Redis:
        return redis.Redis(host=self.host, port=self.port, password=self.password)
