"""Sharded loading against the real Kafka and Redis: shards at once, each exactly once.

Partition p of each topic belongs to shard (p mod N) + 1: with N = 3, the game topic's four
partitions fall to shards 1, 2, 3, 1 and the lobby's two to shards 1 and 2.
"""

import json
import subprocess
import time

import pytest

from superhero_assets.core import contract
from superhero_assets.core.run import manifest
from superhero_assets.core.run.shard import Shard
from superhero_assets.core.run.state import StateError

pytestmark = pytest.mark.integration


def load_shards_at_once(elt, shards: list[str], **options) -> list[dict]:
    """`superhero load --shard K/N` for each shard, all started before any is waited for."""
    procs = []
    for shard in shards:
        argv, env = elt.cli_load_command(shard=shard, **options)
        procs.append(subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True))
    outputs = [proc.communicate(timeout=300)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * len(procs)
    return [json.loads(out.strip().splitlines()[-1]) for out in outputs]


def assert_loaded_exactly_once(elt, expected: dict[str, int]) -> None:
    elt.assert_exactly_once(expected["messages"])
    assert elt.table("lib_server_lobby").num_rows == expected["lobby"]
    assert elt.table("lib_server_game").num_rows == expected["game"]
    elt.assert_state_at_watermarks()
    assert not manifest.read_pendings(elt.store())


def test_three_shards_at_once_load_every_message_once_with_one_etl_meta_row_each(elt):
    expected = elt.produce_matches(20)
    runs = load_shards_at_once(elt, ["1/3", "2/3", "3/3"])
    assert [r["shard"] for r in runs] == ["1/3", "2/3", "3/3"]
    assert all(r["loaded"] > 0 for r in runs)
    assert_loaded_exactly_once(elt, expected)
    assert sorted(elt.table("etl_meta")["etl_id"].to_pylist()) == sorted(r["etl_id"] for r in runs)
    # Each shard's run read only its partitions (recorded in its manifest entry).
    for entry in manifest.run_entries(elt.store()):
        shard = Shard.parse(entry["shard"])
        assert all(shard.owns(int(k.rpartition(":")[2])) for k in entry["messages"]), entry
    assert elt.state()[contract.last_offset_key(elt.game)].decode() == (
        '{"0": 14, "1": 14, "2": 14, "3": 14}'
    )
    assert all(json.loads(r)["loaded"] == 0 for r in _outputs(elt, ["1/3", "2/3", "3/3"]))


def _outputs(elt, shards: list[str]) -> list[str]:
    return [elt.cli_load(shard=s).stdout.strip().splitlines()[-1] for s in shards]


def test_a_second_run_of_one_shard_is_refused_while_another_shard_loads(elt):
    expected = elt.produce_matches(6)
    first = elt.loader(shard=Shard(1, 3))
    pending = first.prepare(run_id="first")
    with pytest.raises(StateError, match=rf"Another run holds the lock on {elt.game}\[0\]"):
        elt.loader(shard=Shard(1, 3)).prepare(run_id="second")
    refused = elt.cli_load(shard="1/3")
    assert refused.returncode != 0 and "Another run holds the lock" in refused.stderr
    assert elt.cli_load(shard="2/3").returncode == 0  # another shard does not wait
    # A shard's commit changes only its partitions' entries: shard 2 committed in between.
    first.land(pending)
    first.commit(pending)
    assert elt.cli_load(shard="3/3").returncode == 0
    assert_loaded_exactly_once(elt, expected)


def test_a_partition_change_by_a_person_during_the_run_refuses_the_commit(elt):
    elt.produce_matches(4)
    loader = elt.loader(shard=Shard(2, 3))
    pending = loader.prepare(run_id="run")
    loader.land(pending)
    elt.redis().set(contract.last_offset_key(elt.game), '{"1": 0}')
    with pytest.raises(StateError, match="CHANGED partition 1"):
        loader.commit(pending)


def test_changing_the_shard_count_while_a_plan_is_pending_redoes_that_plan_first(elt):
    first = elt.produce_matches(9)
    killed = elt.cli_load(shard="2/3", kill_at="before_commit", chunk_messages=5)
    assert killed.returncode == -9, killed.stderr
    (dead,) = manifest.read_pendings(elt.store())
    assert dead.partitions() == {(elt.lobby, 1), (elt.game, 1)}
    time.sleep(2.5)  # the dead run's locks expire
    more = elt.produce_matches(5, start=9)
    # N = 2: shard 1/2 (partitions 0 and 2) does not touch the dead plan's partition 1...
    assert elt.cli_load(shard="1/2").returncode == 0
    assert manifest.read_pendings(elt.store()) == [dead]
    # ...shard 2/2 owns it: it redoes the dead plan, as recorded, before planning anew.
    redo = json.loads(elt.cli_load(shard="2/2", chunk_messages=5).stdout.strip().splitlines()[-1])
    assert redo["etl_id"] == dead.plan.etl_id
    assert json.loads(elt.cli_load(shard="2/2").stdout.strip().splitlines()[-1])["loaded"] > 0
    # Back to N = 3, with new messages: every shard goes on where the others left off.
    last = elt.produce_matches(3, start=14)
    load_shards_at_once(elt, ["1/3", "2/3", "3/3"])
    total = {k: first[k] + more[k] + last[k] for k in ("messages", "lobby", "game")}
    assert_loaded_exactly_once(elt, total)


def test_an_unsharded_plan_left_pending_is_redone_whole_by_the_first_shard_to_come(elt):
    expected = elt.produce_matches(6)
    assert elt.cli_load(kill_at="before_commit").returncode == -9
    (dead,) = manifest.read_pendings(elt.store())
    time.sleep(2.5)
    redo = json.loads(elt.cli_load(shard="3/3").stdout.strip().splitlines()[-1])
    assert redo["etl_id"] == dead.plan.etl_id and redo["loaded"] == expected["messages"]
    assert all(json.loads(r)["loaded"] == 0 for r in _outputs(elt, ["1/3", "2/3", "3/3"]))
    assert_loaded_exactly_once(elt, expected)


def test_the_readme_reset_replays_every_shard_once_even_one_shard_at_a_time(elt):
    expected = elt.produce_matches(8)
    load_shards_at_once(elt, ["1/3", "2/3", "3/3"], chunk_messages=4)
    before = sorted(elt.files())
    r = elt.redis()
    for topic in elt.topics:  # the original README's commands, verbatim
        r.execute_command("SET", contract.counts_key(topic), '{"": 0}')
        r.execute_command("SET", contract.last_offset_key(topic), "-1")
    replay = json.loads(elt.cli_load(shard="1/3", chunk_messages=4).stdout.splitlines()[-1])
    assert replay["kind"] == "replay"
    # Shard 1 committed its partitions; the others still wait to be replayed.
    game = json.loads(r.get(contract.last_offset_key(elt.game)))
    assert game["1"] == game["2"] == -1 and game["0"] >= 0 and game["3"] >= 0, game
    load_shards_at_once(elt, ["2/3", "3/3"], chunk_messages=4)
    assert_loaded_exactly_once(elt, expected)
    # The replay overwrote the files it replaced instead of adding any.
    data = [f for f in sorted(elt.files()) if not f.startswith(("_manifest", "etl_meta"))]
    assert data == [f for f in before if not f.startswith(("_manifest", "etl_meta"))]


def test_lost_offsets_come_back_for_every_shard_even_one_with_nothing_new(elt):
    expected = elt.produce_matches(6)
    load_shards_at_once(elt, ["1/3", "2/3", "3/3"])
    elt.redis().delete(contract.last_offset_key(elt.game))  # counts stay: still "missing"
    elt.redis().delete(contract.last_offset_key(elt.lobby), contract.counts_key(elt.lobby))
    # Shard 1 writes its partitions back; then shards 2 and 3 find Redis holding the topic
    # without theirs, and write theirs back too, with nothing new to load.
    outputs = _outputs(elt, ["1/3", "2/3", "3/3"])
    assert all(json.loads(out)["loaded"] == 0 for out in outputs)
    assert_loaded_exactly_once(elt, expected)
    more = elt.produce_matches(4, start=6)
    load_shards_at_once(elt, ["1/3", "2/3", "3/3"])
    assert_loaded_exactly_once(elt, {k: expected[k] + more[k] for k in expected})
