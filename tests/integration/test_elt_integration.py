"""The batch ELT against the real Kafka and Redis: exactly-once, resets, lost state, kills."""

import time

import pyarrow.compute as pc
import pytest

from superhero_assets.core import contract
from superhero_assets.core.run.state import StateError
from tests.support import wire

pytestmark = pytest.mark.integration


def test_schemas_are_exact_and_counts_reconcile(elt):
    expected = elt.produce_matches(20)
    entry = elt.run()
    assert entry is not None
    for name, schema in contract.TABLES.items():
        table = elt.table(name)
        if name == "quarantine":
            assert table.num_rows == 0  # no files at all: nothing was quarantined
            continue
        assert table.schema.remove_metadata().equals(contract.schema_on_read(schema)), name
    assert elt.table("buffer_meta").num_rows == expected["messages"]
    assert elt.table("log_meta").num_rows == expected["messages"]
    assert elt.table("lib_server_lobby").num_rows == expected["lobby"]
    assert elt.table("lib_server_game").num_rows == expected["game"]
    assert elt.table("quarantine").num_rows == 0
    assert elt.table("etl_meta")["etl_id"].to_pylist() == [entry["etl_id"]]
    elt.assert_exactly_once(expected["messages"])
    state = elt.state()
    game_last = state[contract.last_offset_key(elt.game)].decode()
    assert game_last == '{"0": 14, "1": 14, "2": 14, "3": 14}'  # 60 attacks over 4 partitions
    assert state[contract.counts_key(elt.game)].decode() == '{"0": 15, "1": 15, "2": 15, "3": 15}'


def test_a_run_with_nothing_new_writes_nothing_and_leaves_redis_unchanged(elt):
    elt.produce_matches(5)
    elt.run()
    elt.assert_a_run_with_nothing_new_changes_nothing()


def test_new_messages_are_loaded_once_by_the_next_run(elt):
    first = elt.produce_matches(6)
    elt.run()
    second = elt.produce_matches(4, start=6)
    elt.run()
    elt.assert_exactly_once(first["messages"] + second["messages"])
    assert elt.table("lib_server_lobby").num_rows == first["lobby"] + second["lobby"]
    assert len(elt.table("etl_meta")) == 2


def test_the_readme_reset_reloads_everything_without_duplicate_rows(elt):
    expected = elt.produce_matches(8)
    elt.run(chunk_messages=7)
    r = elt.redis()
    for topic in elt.topics:  # the original README's commands, verbatim
        r.execute_command("SET", contract.counts_key(topic), '{"": 0}')
        r.execute_command("SET", contract.last_offset_key(topic), "-1")
    entry = elt.run(chunk_messages=50)  # another chunk size: the replay must still line up
    assert entry["kind"] == "replay"
    elt.assert_exactly_once(expected["messages"])
    assert set(elt.table("buffer_meta")["etl_id"].to_pylist()) == {entry["etl_id"]}
    assert elt.table("lib_server_lobby").num_rows == expected["lobby"]
    assert elt.table("lib_server_game").num_rows == expected["game"]
    counts = elt.state()[contract.counts_key(elt.lobby)].decode()
    assert sum(int(v) for v in counts.strip("{}").split(", ") for v in [v.split(": ")[1]]) == (
        expected["messages"] - expected["game"]
    )


def test_flushdb_is_not_a_reset_the_manifest_recovers_the_offsets(elt):
    first = elt.produce_matches(5)
    elt.run()
    state = elt.state()
    bindings = [contract.binding_key(t) for t in elt.topics]
    assert all(elt.redis().mget(bindings))
    # What FLUSHDB does to our keys, without touching other tests' keys.
    elt.redis().delete(*state, *bindings)
    assert elt.run() is None  # nothing loaded twice
    # ...and Redis shows the truth again: the README keys hold the committed offsets.
    assert elt.state() == state
    assert all(elt.redis().mget(bindings))
    second = elt.produce_matches(3, start=5)
    elt.run()
    elt.assert_exactly_once(first["messages"] + second["messages"])
    assert elt.state()[contract.counts_key(elt.game)] is not None


@pytest.mark.parametrize(
    "kill_at", ["mid_landing", "before_raw", "before_manifest", "before_commit", "after_commit"]
)
def test_a_killed_run_is_redone_and_every_offset_lands_exactly_once(elt, kill_at):
    expected = elt.produce_matches(12)
    killed = elt.cli_load(kill_at=kill_at, chunk_messages=9)
    assert killed.returncode == -9, killed.stderr
    if kill_at == "before_raw":  # the window writing raw last guards: tables without raw
        assert elt.table("buffer_meta").num_rows > elt.table("raw_messages").num_rows
    time.sleep(2.5)  # the dead run's locks expire
    rerun = elt.cli_load(chunk_messages=9)
    assert rerun.returncode == 0, rerun.stderr
    assert elt.cli_load().stdout.strip().startswith('{"loaded": 0')
    elt.assert_exactly_once(expected["messages"])
    assert elt.table("lib_server_lobby").num_rows == expected["lobby"]
    assert elt.table("lib_server_game").num_rows == expected["game"]
    counts = elt.state()[contract.counts_key(elt.game)].decode()
    assert counts == '{"0": 9, "1": 9, "2": 9, "3": 9}'


def test_a_second_run_at_the_same_time_is_refused_by_the_lock(elt):
    elt.produce_matches(2)
    first = elt.loader()
    pending = first.prepare(run_id="first")
    with pytest.raises(StateError, match="Another run holds the lock"):
        elt.loader().prepare(run_id="second")
    first.land(pending)
    first.commit(pending)
    assert elt.run() is None


def test_bad_messages_are_quarantined_with_their_reason_while_the_rest_loads(elt):
    good = [wire.attack("g", "a", "b", 1, 2, 1)] * 4
    bad = {
        b"not json": "value is not JSON",
        b"\xc3\x28": "not valid UTF-8",
        wire.record(elt.game, "Attack Completed", None): "must be a JSON-encoded string",
        wire.attack("g", "a", "b", "10", 2, 1): "must be a non-negative integer",
        wire.record(elt.game, "Power Up", "x" * 40_000): "past int16",
    }
    elt.produce(elt.game, good + list(bad), 1)
    elt.run()
    quarantine = elt.table("quarantine")
    reasons = dict(
        zip(quarantine["value"].to_pylist(), quarantine["error"].to_pylist(), strict=True)
    )
    assert set(reasons) == set(bad)
    for value, reason in bad.items():
        assert reason in reasons[value]
    assert elt.table("lib_server_game").num_rows == 4
    assert elt.table("buffer_meta").num_rows == 9
    assert pc.sum(pc.is_null(elt.table("buffer_meta")["serialized_value_size"])).as_py() == 1


def test_a_table_without_rows_reads_as_zero_rows_in_any_reader(elt):
    """No bad input, so no quarantine rows: the glob still finds the table, with its schema."""
    import duckdb
    import polars as pl
    import pyarrow.dataset as ds

    elt.produce_matches(2)
    elt.run()
    glob = f"{elt.output}/quarantine/**/*.parquet"
    assert duckdb.sql(f"SELECT count(*) FROM '{glob}'").fetchall() == [(0,)]
    assert pl.scan_parquet(glob).select(pl.len()).collect().item() == 0
    dataset = ds.dataset(f"{elt.output}/quarantine", format="parquet")
    assert dataset.count_rows() == 0
    assert dataset.schema.names == contract.QUARANTINE.names
    # ...and a table with rows is unchanged by its empty file.
    log_meta = duckdb.sql(f"SELECT count(*) FROM '{elt.output}/log_meta/**/*.parquet'")
    assert log_meta.fetchall() == [(elt.table("log_meta").num_rows,)]
    assert elt.table("log_meta").num_rows > 0
