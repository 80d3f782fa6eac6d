"""The ELT assets in one Dagster run, in process, against the real stack."""

import dagster as dg
import pyarrow.parquet as pq
import pytest

from superhero_assets.assets import ALL_CHECKS, ELT_ASSETS
from superhero_assets.core import contract
from superhero_assets.core.run import heartbeat, manifest
from superhero_assets.resources import (
    BatchLoaderResource,
    KafkaResource,
    OutputResource,
    RedisStateResource,
)

pytestmark = pytest.mark.integration


def test_one_landing_step_materializes_raw_messages_and_every_table_from_what_it_wrote(elt):
    expected = elt.produce_matches(12)
    loader = loader_for(elt, chunk_messages=10)  # several chunks per partition
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(ELT_ASSETS, resources={"loader": loader}, instance=instance)
    assert result.success
    # raw_messages, the five tables and quarantine are materialized by one step, the one that
    # wrote them; only the commit has a step of its own.
    steps = {e.asset_key.path[-1]: e.step_key for e in result.get_asset_materialization_events()}
    assert steps == {name: "land" for name in ("raw_messages", *contract.TABLES)} | {
        "kafka_offsets": "kafka_offsets"
    }
    # Lineage still runs raw_messages -> tables -> kafka_offsets.
    graph = dg.Definitions(assets=ELT_ASSETS, resources={"loader": loader}).resolve_asset_graph()
    assert graph.get(dg.AssetKey("buffer_meta")).parent_keys == {dg.AssetKey("raw_messages")}
    assert dg.AssetKey("quarantine") in graph.get(dg.AssetKey("kafka_offsets")).parent_keys
    # ... and the tables are whole and exact, and the run committed.
    assert elt.table("buffer_meta").num_rows == expected["messages"]
    assert elt.table("lib_server_lobby").num_rows == expected["lobby"]
    assert elt.table("lib_server_game").num_rows == expected["game"]
    elt.assert_exactly_once(expected["messages"])
    assert manifest.read_pending(elt.store()) is None
    tables = [
        m
        for m in result.asset_materializations_for_node("land")
        if m.asset_key.path[-1] != "raw_messages"
    ]
    rows = {m.asset_key.path[-1]: m.metadata["dagster/row_count"].value for m in tables}
    assert rows["buffer_meta"] == expected["messages"]
    assert rows["lib_server_game"] == expected["game"]
    # Each table shows where it lives, as an absolute location.
    uris = {m.asset_key.path[-1]: m.metadata["dagster/uri"].value for m in tables}
    assert uris == {t: f"{elt.output}/{t}" for t in contract.TABLES}
    raw = materialized(result, "raw_messages")
    assert raw.metadata["dagster/uri"].value == f"{elt.output}/raw_messages"


def test_a_redone_plan_reports_the_chunks_landed_before_it_from_their_footers(elt):
    """A run that died after landing some chunks: the Dagster run that redoes its plan reads
    and parses only the chunks it had not finished, and reports every table whole."""
    expected = elt.produce_matches(12)
    dead = elt.loader(chunk_messages=10, heartbeat=False)
    pending = dead.prepare(run_id="died")
    dead.land(pending)
    heartbeat.release_locks(elt.redis(), pending.tokens)  # its locks expired
    unfinished = pending.plan.chunks[-1]  # it died while writing this chunk's raw file
    (elt.output / unfinished.relpath("raw_messages")).unlink()
    derived = {
        f: (f.stat().st_mtime_ns, f.stat().st_size)
        for t in contract.CHUNKED_TABLES
        for f in elt.output.glob(f"{t}/**/*.parquet")
        if unfinished.stem not in str(f)
    }
    assert len(derived) > 10

    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        ELT_ASSETS, resources={"loader": loader_for(elt, chunk_messages=10)}, instance=instance
    )
    assert result.success
    assert materialized(result, "raw_messages").metadata["etl_id"].value == pending.plan.etl_id
    # The chunks landed before were not written again...
    assert {f: (f.stat().st_mtime_ns, f.stat().st_size) for f in derived} == derived
    # ... yet every table reports the whole plan's rows, counted from their footers.
    this_run = {
        name: materialized(result, name).metadata["rows_this_run"].value
        for name in ("raw_messages", *contract.TABLES)
    }
    assert this_run["raw_messages"] == this_run["buffer_meta"] == expected["messages"]
    assert this_run["lib_server_game"] == expected["game"]
    assert this_run["lib_server_lobby"] == expected["lobby"]
    elt.assert_exactly_once(expected["messages"])


def materialized(result: dg.ExecuteInProcessResult, asset: str) -> dg.AssetMaterialization:
    (event,) = [
        m for m in result.get_asset_materialization_events() if m.asset_key.path[-1] == asset
    ]
    return event.materialization


def test_row_count_is_the_tables_size_and_this_runs_rows_have_their_own_key(elt):
    """dagster/row_count is the whole table (Dagster's meaning); this run's rows have their
    own key."""
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
    game = materialized(result, "lib_server_game").metadata
    assert game["dagster/row_count"].value == first["game"] + second["game"]
    assert game["dagster/row_count"].value == elt.table("lib_server_game").num_rows
    assert game["rows_this_run"].value == second["game"]
    raw = materialized(result, "raw_messages")
    assert raw.metadata["dagster/row_count"].value == first["messages"] + second["messages"]


def loader_for(elt, **config) -> BatchLoaderResource:
    return BatchLoaderResource(
        kafka=KafkaResource(bootstrap_servers=elt.stack.kafka_bootstrap_servers),
        redis_state=RedisStateResource(host=elt.stack.redis_host, port=elt.stack.redis_port),
        output=OutputResource(output_fs=str(elt.output)),
        source_topics=list(elt.topics),
        **config,
    )


def test_a_run_that_loads_nothing_materializes_nothing_and_says_why(elt):
    loader = loader_for(elt)
    instance = dg.DagsterInstance.ephemeral()
    elt.produce_matches(2)
    everything = [*ELT_ASSETS, *ALL_CHECKS]
    assert dg.materialize(everything, resources={"loader": loader}, instance=instance).success
    idle = dg.materialize(everything, resources={"loader": loader}, instance=instance)
    assert idle.success
    assert idle.get_asset_materialization_events() == []
    assert idle.get_asset_check_evaluations() == []  # skipped with their assets
    (note,) = idle.get_asset_observation_events()
    assert note.asset_key == dg.AssetKey("raw_messages")
    assert "no new messages" in note.asset_observation_data.asset_observation.metadata["note"].value
    skipped = {e.step_key for e in idle.all_events if e.event_type_value == "STEP_SKIPPED"}
    assert {"kafka_offsets", "buffer_meta_msg_id_unique"} <= skipped
    assert "land" not in skipped  # it ran, and found nothing


def check_alone(elt, loader, name: str, asset: str) -> dg.AssetCheckEvaluation:
    result = dg.materialize(
        [*ELT_ASSETS, *ALL_CHECKS],
        resources={"loader": loader},
        selection=dg.AssetSelection.checks(dg.AssetCheckKey(dg.AssetKey(asset), name)),
        raise_on_error=False,  # a blocking check that fails fails its run
    )
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


def test_a_check_run_on_its_own_checks_the_whole_table(elt):
    loader = loader_for(elt, chunk_messages=10)
    first = elt.produce_matches(3)
    assert dg.materialize(ELT_ASSETS, resources={"loader": loader}).success
    second = elt.produce_matches(2, start=3)
    assert dg.materialize(ELT_ASSETS, resources={"loader": loader}).success

    attacks = check_alone(elt, loader, "one_row_per_attack", "lib_server_game")
    assert attacks.passed
    assert attacks.metadata["rows"].value == first["game"] + second["game"]
    assert attacks.metadata["scope"].value.startswith("the whole table")
    # A file of the first run goes missing: the check, run alone, sees it.
    (oldest, *_) = sorted(elt.output.glob("lib_server_game/**/0*.parquet"))
    lost = pq.read_metadata(oldest).num_rows
    oldest.unlink()
    attacks = check_alone(elt, loader, "one_row_per_attack", "lib_server_game")
    assert not attacks.passed
    assert attacks.metadata["rows"].value == first["game"] + second["game"] - lost
    unique = check_alone(elt, loader, "msg_id_unique", "buffer_meta")
    assert unique.passed and unique.metadata["scope"].value.startswith("the whole table")


def test_table_metadata_a_dagster_user_expects(elt):
    loader = loader_for(elt)
    elt.produce_matches(3)
    result = dg.materialize(ELT_ASSETS, resources={"loader": loader})
    tables = {name: materialized(result, name) for name in contract.TABLES}
    game = tables["lib_server_game"].metadata
    # The preview is a table the UI renders, of this table's own columns.
    preview = game["preview"]
    assert isinstance(preview, dg.TableMetadataValue)
    assert [c.name for c in preview.schema.columns] == contract.LIB_SERVER_GAME.names[1:]
    assert 0 < len(preview.records) <= 5
    assert preview.records[0].data["msg_id"].startswith(elt.game + ":")
    # Offset ranges name only the topic the table is fed by; the lobby's only the lobby.
    assert set(game["offset_ranges"].value) == {f"{elt.game}[{p}]" for p in range(4)}
    lobby_ranges = tables["lib_server_lobby"].metadata["offset_ranges"].value
    assert set(lobby_ranges) == {f"{elt.lobby}[{p}]" for p in range(2)}
    assert len(tables["buffer_meta"].metadata["offset_ranges"].value) == 6
    # Each table's own write time, not one figure repeated.
    write_s = {name: m.metadata["write_s"].value for name, m in tables.items()}
    written = {n for n, m in tables.items() if m.metadata["rows_this_run"].value}
    assert all(write_s[name] > 0 for name in written), write_s
    assert write_s["quarantine"] == 0 and "quarantine" not in written
    assert len(set(write_s.values())) > 1
    # Every column of every table says what it means.
    assets = {a.key.path[-1]: a for a in ELT_ASSETS[0].specs}
    for name, schema in contract.TABLES.items():
        columns = assets[name].metadata["dagster/column_schema"].columns
        assert [c.name for c in columns] == schema.names
        assert all(c.description for c in columns), name
    assert "N x N" in assets["lib_server_lobby"].description
