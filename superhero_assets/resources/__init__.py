"""Dagster resources: thin, configurable wrappers around Kafka, Redis and the output store."""

from superhero_assets.resources.io_manager import ParquetTablesIOManager
from superhero_assets.resources.kafka import KafkaResource
from superhero_assets.resources.loader import BatchLoaderResource
from superhero_assets.resources.output import OutputResource
from superhero_assets.resources.redis_state import RedisStateResource

__all__ = [
    "BatchLoaderResource",
    "KafkaResource",
    "OutputResource",
    "ParquetTablesIOManager",
    "RedisStateResource",
]
