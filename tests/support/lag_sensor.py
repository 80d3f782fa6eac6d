"""The Kafka-lag sensor evaluated with build_sensor_context against the real stack."""

import dagster as dg

from superhero_assets.assets.freshness import FreshnessLimits
from superhero_assets.assets.sensors import LagPolicy, build_lag_sensor
from superhero_assets.resources import (
    BatchLoaderResource,
    KafkaResource,
    OutputResource,
    RedisStateResource,
)
from tests.support.elt_env import EltEnv


def evaluate(
    elt: EltEnv,
    instance,
    cursor=None,
    threshold=10,
    max_age_s=3600.0,
    lock_ttl_s=30,
    fresh_for_s=(300.0, 900.0),
    shards=1,
):
    loader = BatchLoaderResource(
        lock_ttl_s=lock_ttl_s,
        kafka=KafkaResource(bootstrap_servers=elt.stack.kafka_bootstrap_servers),
        redis_state=RedisStateResource(host=elt.stack.redis_host, port=elt.stack.redis_port),
        output=OutputResource(output_fs=str(elt.output)),
        source_topics=list(elt.topics),
    )
    with dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={
            "loader": loader,
            "lag_policy": LagPolicy(lag_threshold=threshold, max_age_s=max_age_s),
            "freshness_limits": FreshnessLimits(
                warn_after_s=fresh_for_s[0], fail_after_s=fresh_for_s[1]
            ),
        },
    ) as context:
        return build_lag_sensor(15, shards)(context)
