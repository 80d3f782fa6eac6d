"""Dagster definitions for superhero-dataflow: wiring only; the logic lives in plain modules."""

import dagster as dg

from superhero_assets.resources import KafkaResource, RedisStateResource

defs = dg.Definitions(
    resources={
        "kafka": KafkaResource(),
        "redis_state": RedisStateResource(),
    },
)
