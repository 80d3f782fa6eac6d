"""The ELT assets in one Dagster run, in process, against the real stack."""

import dagster as dg
import pytest

from superhero_assets.assets import ELT_ASSETS
from superhero_assets.core import contract, manifest
from superhero_assets.resources import (
    BatchLoaderResource,
    KafkaResource,
    OutputResource,
    RedisStateResource,
)

pytestmark = pytest.mark.integration


def test_the_tables_step_takes_the_tables_written_while_landing(elt):
    expected = elt.produce_matches(12)
    loader = BatchLoaderResource(
        kafka=KafkaResource(bootstrap_servers=elt.stack.kafka_bootstrap_servers),
        redis_state=RedisStateResource(host=elt.stack.redis_host, port=elt.stack.redis_port),
        output=OutputResource(output_fs=str(elt.output)),
        source_topics=list(elt.topics),
        chunk_messages=10,  # several chunks per partition
    )
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(ELT_ASSETS, resources={"loader": loader}, instance=instance)
    assert result.success
    # Every derived file was written before raw_messages was materialized: the tables'
    # step (its own Loader, as in a process of its own) took them from the record.
    landed_at = instance.get_latest_materialization_event(dg.AssetKey("raw_messages")).timestamp
    derived = [f for t in contract.CHUNKED_TABLES for f in elt.output.glob(f"{t}/**/*.parquet")]
    assert len(derived) > 10
    late = [f for f in derived if f.stat().st_mtime > landed_at]
    assert not late, late
    # ... and the tables are whole and exact, and the run committed.
    assert elt.table("buffer_meta").num_rows == expected["messages"]
    assert elt.table("lib_server_lobby").num_rows == expected["lobby"]
    assert elt.table("lib_server_game").num_rows == expected["game"]
    elt.assert_exactly_once(expected["messages"])
    assert manifest.read_pending(elt.store()) is None
    tables = result.asset_materializations_for_node("elt_tables")
    rows = {m.asset_key.path[-1]: m.metadata["dagster/row_count"].value for m in tables}
    assert rows["buffer_meta"] == expected["messages"]
    assert rows["lib_server_game"] == expected["game"]
    # Each table shows where it lives, as an absolute location.
    uris = {m.asset_key.path[-1]: m.metadata["dagster/uri"].value for m in tables}
    assert uris == {t: f"{elt.output}/{t}" for t in contract.TABLES}
    (raw,) = result.asset_materializations_for_node("raw_messages")
    assert raw.metadata["dagster/uri"].value == f"{elt.output}/raw_messages"


def test_row_count_is_the_tables_size_and_this_runs_rows_have_their_own_key(elt):
    """dagster/row_count is the whole table (Dagster's meaning); this run's rows have their
    own key, also in a run that loads nothing."""
    loader = BatchLoaderResource(
        kafka=KafkaResource(bootstrap_servers=elt.stack.kafka_bootstrap_servers),
        redis_state=RedisStateResource(host=elt.stack.redis_host, port=elt.stack.redis_port),
        output=OutputResource(output_fs=str(elt.output)),
        source_topics=list(elt.topics),
    )
    instance = dg.DagsterInstance.ephemeral()
    first = elt.produce_matches(4)
    assert dg.materialize(ELT_ASSETS, resources={"loader": loader}, instance=instance).success
    second = elt.produce_matches(3, start=4)
    result = dg.materialize(ELT_ASSETS, resources={"loader": loader}, instance=instance)
    tables = {m.asset_key.path[-1]: m for m in result.asset_materializations_for_node("elt_tables")}
    game = tables["lib_server_game"].metadata
    assert game["dagster/row_count"].value == first["game"] + second["game"]
    assert game["dagster/row_count"].value == elt.table("lib_server_game").num_rows
    assert game["rows_this_run"].value == second["game"]
    (raw,) = result.asset_materializations_for_node("raw_messages")
    assert raw.metadata["dagster/row_count"].value == first["messages"] + second["messages"]

    idle = dg.materialize(ELT_ASSETS, resources={"loader": loader}, instance=instance)
    idle_tables = {
        m.asset_key.path[-1]: m for m in idle.asset_materializations_for_node("elt_tables")
    }
    assert idle_tables["lib_server_game"].metadata["rows_this_run"].value == 0
    assert idle_tables["lib_server_game"].metadata["dagster/row_count"].value == (
        first["game"] + second["game"]
    )
