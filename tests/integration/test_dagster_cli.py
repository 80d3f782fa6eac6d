"""`dagster asset materialize` against the real stack: what the README promises users."""

import json
import os

import pyarrow.parquet as pq
import pytest
import redis
from confluent_kafka import Consumer, TopicPartition

from superhero_assets.core import contract
from tests.support import wire
from tests.support.dagster_cli import materialize
from tests.support.elt_env import EltEnv

pytestmark = pytest.mark.integration


def test_materialize_all_assets_with_the_cli(stack, tmp_path):
    # Some known traffic on the real topics, beside whatever other tests left there.
    EltEnv(stack, "lib.server.lobby", "lib.server.game", tmp_path).produce(
        "lib.server.game", [wire.attack("cli", "a", "b", 3, 9, 6)] * 8, 4
    )
    db = 7
    r = redis.Redis(host=stack.redis_host, port=stack.redis_port, db=db)
    r.flushdb()
    env = {
        **os.environ,
        "OUTPUT_FS": str(tmp_path / "data"),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "KAFKA_BOOTSTRAP_SERVERS": stack.kafka_bootstrap_servers,
        "REDIS_HOST": stack.redis_host,
        "REDIS_PORT": str(stack.redis_port),
        "REDIS_DB": str(db),
    }
    os.makedirs(env["DAGSTER_HOME"])
    result = materialize(env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "RUN_SUCCESS" in result.stderr
    for asset, check in (
        ("buffer_meta", "msg_id_unique"),
        ("buffer_meta", "offsets_contiguous"),
        ("lib_server_lobby", "one_row_per_participant"),
        ("lib_server_game", "one_row_per_attack"),
        ("buffer_meta", "schema_matches_contract"),
        ("lib_server_game", "fresh"),
    ):
        assert f"Asset check '{check}' on '{asset}' passed" in result.stderr, check

    out = tmp_path / "data"
    for name, schema in contract.TABLES.items():
        for f in out.glob(f"{name}/**/*.parquet"):
            assert pq.read_schema(f).remove_metadata().equals(contract.schema_on_read(schema))
    game_rows = sum(pq.read_metadata(f).num_rows for f in out.glob("lib_server_game/**/*.parquet"))
    assert game_rows >= 8

    # Redis now holds, per partition, the last offset below the high watermark.
    consumer = Consumer({"bootstrap.servers": stack.kafka_bootstrap_servers, "group.id": "t"})
    last = json.loads(r.get(contract.last_offset_key("lib.server.game")))
    for p in range(4):
        _, high = consumer.get_watermark_offsets(TopicPartition("lib.server.game", p), timeout=10)
        assert last[str(p)] == high - 1
    consumer.close()

    before = sorted(p.name for p in out.rglob("*.parquet"))
    again = materialize(env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert sorted(p.name for p in out.rglob("*.parquet")) == before
