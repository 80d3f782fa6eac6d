"""The batch loader: Kafka, the Redis state and the output, with the run's tuning knobs."""

import logging

import dagster as dg
from pydantic import Field

from superhero_assets.core import contract
from superhero_assets.core.run.pipeline import Loader
from superhero_assets.core.run.shard import Shard
from superhero_assets.core.settings import LoaderSettings, settings_of
from superhero_assets.resources.kafka import KafkaResource
from superhero_assets.resources.output import OutputResource
from superhero_assets.resources.redis_state import RedisStateResource


class BatchLoaderResource(dg.ConfigurableResource):
    """Exactly-once batch loading from Kafka to Parquet, offsets kept in Redis."""

    kafka: KafkaResource
    redis_state: RedisStateResource
    output: OutputResource
    source_topics: list[str] = Field(
        default=list(contract.SOURCE_TOPICS), description="The topics to load (SUPERHERO_TOPICS)."
    )
    chunk_messages: int = Field(default=100_000, description="Offsets per file; bounds memory.")
    batch_messages: int = Field(default=10_000, description="Messages per read from Kafka.")
    lock_ttl_s: int = Field(
        default=30,
        description="Seconds a crashed run keeps its partition locks; a live run's heartbeat "
        "refreshes them every third of it (ELT_LOCK_TTL_S).",
    )
    return_memory: bool = Field(
        default=True, description="Hand freed memory back to the OS (lower peak, a little slower)."
    )

    def topics(self) -> tuple[str, ...]:
        return tuple(self.source_topics)

    def loader(self, log: logging.Logger | None = None, shard: Shard | None = None) -> Loader:
        return settings_of(self, LoaderSettings).loader(log, shard)
