"""`superhero chaos`: the reconciliation catches every loss and duplicate; the real run passes."""

from __future__ import annotations

import json
import random
import time
from dataclasses import replace

import pyarrow as pa
import pytest

from superhero_assets.core.parse.tables import parse_batch
from superhero_assets.core.run import manifest
from superhero_assets.core.run.state import StateError
from superhero_assets.core.store.output_store import OutputStore
from superhero_tools.chaos.cli import schedule
from superhero_tools.chaos.faults import KINDS
from superhero_tools.chaos.producer import BAD_VALUES
from superhero_tools.chaos.reconcile import Produced, reconcile
from superhero_tools.simulator import bulk
from superhero_tools.simulator.roster import load_roster
from tests.support import wire
from tests.support.elt_env import EltEnv
from tests.support.stack import superhero


def produced_messages(n: int = 300) -> list[Produced]:
    """Real simulator values over two topics, with one of each bad value mixed in."""
    values: list[tuple[str, bytes]] = []
    bulk.simulate(n, 7, load_roster(), lambda topic, v: values.append((topic, v.encode())))
    values += [("lib.server.game", bad) for bad in BAD_VALUES]
    offsets: dict[str, int] = {}
    produced = []
    for topic, value in values:
        offset = offsets[topic] = offsets.get(topic, -1) + 1
        produced.append(Produced(topic, 0, offset, value, value in BAD_VALUES))
    return produced


def load(produced: list[Produced]) -> dict[str, pa.Table]:
    """What the loader's own parser makes of those messages (one batch per topic)."""
    tables: dict[str, list[pa.Table]] = {}
    for topic in sorted({m.topic for m in produced}):
        msgs = [m for m in produced if m.topic == topic]
        raw = wire.raw_table([m.value for m in msgs], topic=topic)
        for name, table in parse_batch(raw, "etl").items():
            tables.setdefault(name, []).append(table)
    return {name: pa.concat_tables(parts) for name, parts in tables.items()}


def with_row(tables: dict[str, pa.Table], name: str, row: int, mutate=None) -> dict:
    """A copy of the tables where one row of one table is appended again (maybe changed)."""
    table = tables[name]
    extra = table.slice(row, 1)
    if mutate:
        extra = mutate(extra)
    return {**tables, name: pa.concat_tables([table, extra])}


def without_row(tables: dict[str, pa.Table], name: str, row: int) -> dict:
    table = tables[name]
    return {**tables, name: pa.concat_tables([table.slice(0, row), table.slice(row + 1)])}


@pytest.fixture(scope="module")
def clean():
    produced = produced_messages()
    return produced, load(produced)


def test_the_loaders_output_of_the_produced_messages_reconciles_exactly(clean):
    produced, tables = clean
    result = reconcile(produced, tables)
    assert result["produced"] == len(produced)
    assert result["quarantined"] == result["produced_bad"] == len(BAD_VALUES)
    assert result["loaded"] == len(produced) - len(BAD_VALUES)
    assert (result["lost"], result["duplicated"], result["wrong"], result["unexpected"]) == (
        0,
        0,
        0,
        0,
    )
    assert tables["lib_server_lobby"].num_rows > 0 and tables["lib_server_game"].num_rows > 0


@pytest.mark.parametrize(
    "table", ["buffer_meta", "log_meta", "quarantine", "lib_server_lobby", "lib_server_game"]
)
def test_a_row_loaded_twice_is_a_duplicate(clean, table):
    produced, tables = clean
    result = reconcile(produced, with_row(tables, table, 0))
    assert result["duplicated"] == 1 and result["lost"] == 0, result
    assert result["tables"][table]["extra"] == 1


@pytest.mark.parametrize(
    "table", ["buffer_meta", "log_meta", "quarantine", "lib_server_lobby", "lib_server_game"]
)
def test_a_row_never_loaded_is_lost(clean, table):
    produced, tables = clean
    result = reconcile(produced, without_row(tables, table, 0))
    assert result["lost"] == 1 and result["duplicated"] == 0, result
    assert result["tables"][table]["missing"] == 1


def test_a_message_missing_everywhere_is_one_loss(clean):
    produced, tables = clean
    result = reconcile(produced + [replace(produced[0], offset=10_000)], tables)
    assert result["lost"] == 1 and result["duplicated"] == 0


def test_a_changed_value_is_wrong_and_an_unknown_offset_is_unexpected(clean):
    produced, tables = clean

    def more_damage(t: pa.Table) -> pa.Table:
        i = t.schema.get_field_index("enemy_damage")
        return t.set_column(i, "enemy_damage", pa.array([999_999], t["enemy_damage"].type))

    changed = without_row(with_row(tables, "lib_server_game", 0, more_damage), "lib_server_game", 0)
    result = reconcile(produced, changed)
    assert result["wrong"] == 1 and result["lost"] == 1 and result["duplicated"] == 0

    def other_offset(t: pa.Table) -> pa.Table:
        i = t.schema.get_field_index("offset")
        return t.set_column(i, "offset", pa.array([10_000], t["offset"].type))

    result = reconcile(produced, with_row(tables, "buffer_meta", 0, other_offset))
    assert result["unexpected"] == 1 and result["duplicated"] == 0 and result["lost"] == 0


def test_the_schedule_covers_every_fault_kind_and_follows_the_seed():
    kinds = len(KINDS)
    first = schedule(kinds, random.Random(1))
    assert sorted(first) == sorted(KINDS)
    assert first == schedule(kinds, random.Random(1))
    assert schedule(12, random.Random(3)) != schedule(12, random.Random(4))


@pytest.mark.integration
def test_a_short_chaos_run_loses_and_duplicates_nothing(tmp_path):
    """The CI chaos run: every fault kind against its own stack, then the reconciliation."""
    result = superhero(
        "chaos", "--kills", "12", "--seed", "1", "--state-dir", str(tmp_path / "chaos"), timeout=600
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr[-4000:]}"
    summary = json.loads(result.stdout)
    assert summary["ok"] and summary["checks_failed"] == []
    messages = summary["messages"]
    assert messages["lost"] == 0 and messages["duplicated"] == 0
    assert messages["wrong"] == 0 and messages["unexpected"] == 0
    assert messages["produced"] > 1000 and messages["quarantined"] == messages["produced_bad"] > 0
    assert set(summary["faults_injected"]) == set(KINDS)
    assert summary["faults_that_failed_a_run"]["kill_run"] >= 1
    assert summary["faults_that_failed_a_run"]["kill_dagster_run"] >= 1
    assert summary["faults_that_struck_a_live_run"]["kill_kafka"] >= 1
    assert {"redis_mid_run", "redis_between_runs", "read_only", "disk_full"} <= set(
        summary["variants"]
    )


@pytest.mark.integration
def test_a_fenced_out_run_never_moves_the_manifest_head_back(stack, tmp_path):
    """Found by reasoning about the chaos faults: a run that stalls past its lock TTL, while
    another run redoes its plan and a newer run commits, must not write an older head;
    otherwise a later loss of the Redis keys recovers stale offsets and loads rows twice."""
    elt = EltEnv.create(stack, tmp_path / "out")
    try:
        produced = elt.produce_matches(4)["messages"]
        slow = elt.loader(lock_ttl_s=1, heartbeat=False)  # a frozen process: no heartbeat
        pending = slow.prepare(run_id="slow")
        slow.land(pending)
        time.sleep(1.3)  # it stalls: its locks expire
        assert elt.run()["etl_id"] == pending.plan.etl_id  # redone by another
        produced += elt.produce_matches(3, start=4)["messages"]
        newer = elt.run()  # a newer run moves the head on
        with pytest.raises(StateError):
            slow.commit(pending)  # fenced out, as it must be
        assert manifest.read_head(OutputStore(str(elt.output)))["seq"] == newer["seq"]
        elt.redis().delete(*elt.state())  # Redis restarts without persistence
        produced += elt.produce_matches(2, start=7)["messages"]
        elt.run()
        offsets = elt.table("buffer_meta")["msg_id"].to_pylist()
        assert len(offsets) == len(set(offsets)) == produced
    finally:
        elt.cleanup()


@pytest.mark.integration
def test_a_chaos_run_on_three_brokers_and_three_shards_loses_and_duplicates_nothing(tmp_path):
    """The faults of a cluster and of shards: a node killed and restarted mid-run, one
    shard's run killed while the others load, and N changed 3 -> 2 -> 3 with plans pending."""
    kinds = ("kill_broker", "kill_shard_run", "change_shards")
    result = superhero(
        "chaos",
        *("--brokers", "3", "--shards", "3", "--kills", "3", "--seed", "2"),
        *("--kinds", ",".join(kinds), "--state-dir", str(tmp_path / "chaos")),
        *("--kafka-port", "29492", "--redis-port", "26679"),
        timeout=900,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr[-4000:]}"
    summary = json.loads(result.stdout)
    assert summary["ok"] and summary["checks_failed"] == []
    messages = summary["messages"]
    assert messages["lost"] == 0 and messages["duplicated"] == 0
    assert messages["wrong"] == 0 and messages["unexpected"] == 0
    assert set(summary["faults_injected"]) == set(kinds)
    assert summary["faults_that_failed_a_run"]["kill_shard_run"] >= 1
    assert summary["faults_that_failed_a_run"]["change_shards"] >= 1
    assert "3->2->3" in summary["variants"]
