"""The Kafka-lag sensor, evaluated with build_sensor_context against the real stack."""

import hashlib
import time

import dagster as dg
import pytest

from superhero_assets.assets.sensors import LagPolicy, build_lag_sensor
from superhero_assets.resources import (
    BatchLoaderResource,
    KafkaResource,
    OutputResource,
    RedisStateResource,
)
from tests import wire
from tests.elt_env import EltEnv

pytestmark = pytest.mark.integration


def evaluate(elt: EltEnv, instance, cursor=None, threshold=10, max_age_s=3600.0):
    loader = BatchLoaderResource(
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
        },
    ) as context:
        return build_lag_sensor(15)(context)


def expected_key(ends: dict[tuple[str, int], int]) -> str:
    text = ",".join(f"{t}:{p}={h}" for (t, p), h in sorted(ends.items()))
    return "lag-" + hashlib.sha1(text.encode()).hexdigest()[:16]


def test_no_lag_gives_a_skip_that_states_the_lag(elt):
    with dg.instance_for_test() as instance:
        result = evaluate(elt, instance)
    assert not result.run_requests
    assert f"{elt.game}: 0" in result.skip_reason.skip_message
    (obs,) = result.asset_events
    assert obs.metadata["lag_total"].value == 0


def test_lag_over_the_threshold_requests_one_run_with_a_deterministic_key(elt):
    elt.produce(elt.game, [wire.attack("g", "a", "b", 1, 2, 1)] * 12, 4)  # 3 per partition
    with dg.instance_for_test() as instance:
        result = evaluate(elt, instance)
    (request,) = result.run_requests
    ends = {(elt.game, p): 3 for p in range(4)} | {(elt.lobby, p): 0 for p in range(2)}
    assert request.run_key == expected_key(ends)
    (obs,) = result.asset_events
    assert obs.metadata["lag_total"].value == 12
    assert obs.metadata[f"lag {elt.game}[2]"].value == 3


def test_the_same_state_twice_does_not_request_a_second_run(elt):
    elt.produce(elt.game, [wire.attack("g", "a", "b", 1, 2, 1)] * 12, 4)
    with dg.instance_for_test() as instance:
        first = evaluate(elt, instance)
        second = evaluate(elt, instance, cursor=first.cursor)
    assert len(first.run_requests) == 1
    assert not second.run_requests
    assert "already requested" in second.skip_reason.skip_message


def test_a_loaded_backlog_has_no_lag_and_lag_is_never_negative(elt):
    elt.produce(elt.game, [wire.attack("g", "a", "b", 1, 2, 1)] * 12, 4)
    elt.run()
    with dg.instance_for_test() as instance:
        result = evaluate(elt, instance, threshold=1)
    assert not result.run_requests
    assert result.asset_events[0].metadata["lag_total"].value == 0


def test_a_stale_message_triggers_a_run_by_age(elt):
    elt.produce(elt.game, [wire.attack("g", "a", "b", 1, 2, 1)], 1)
    with dg.instance_for_test() as instance:
        fresh = evaluate(elt, instance, threshold=1000, max_age_s=2.0)
        time.sleep(2.5)
        stale = evaluate(elt, instance, threshold=1000, max_age_s=2.0)
    assert not fresh.run_requests
    (request,) = stale.run_requests
    assert request.tags["superhero/reason"].startswith("stale")
