"""Shards: naming them, and which partitions each owns."""

import pytest

from superhero_assets.core.run.shard import Shard, ShardError, all_shards, shard_count
from superhero_assets.core.run.state import REPLAY, parse_state, partition_value, replaying


def test_every_partition_belongs_to_exactly_one_shard_for_any_n():
    for n in (1, 2, 3, 4, 7):
        for partition in range(24):
            owners = [s for s in all_shards(n) if s.owns(partition)]
            assert owners == [Shard(partition % n + 1, n)]


def test_a_shard_is_named_k_of_n_on_the_command_line_and_in_dagster():
    shard = Shard.parse("2/3")
    assert (shard.index, shard.count, str(shard), shard.key) == (2, 3, "2/3", "2-of-3")
    assert Shard.from_key("2-of-3") == shard
    assert Shard().is_whole and not shard.is_whole


@pytest.mark.parametrize("text", ["0/3", "4/3", "2", "a/b", "1/0", "-1/2"])
def test_a_shard_that_does_not_exist_is_refused_with_how_to_name_one(text):
    with pytest.raises(ShardError, match="K/N"):
        Shard.parse(text)


def test_the_shard_count_comes_from_superhero_shards():
    assert shard_count(None) == shard_count("") == 1
    assert shard_count("4") == 4
    with pytest.raises(ShardError, match="SUPERHERO_SHARDS"):
        shard_count("0")


def test_a_partition_to_replay_is_marked_per_partition_or_by_the_whole_topic_reset():
    whole = parse_state("t", "-1", '{"": 0}')
    assert partition_value(whole, 5) == (REPLAY, 0) and replaying(whole, 5)
    some = parse_state("t", '{"0": 9, "1": -1}', '{"0": 10, "1": 0}')
    assert not replaying(some, 0) and replaying(some, 1)
    assert partition_value(some, 0) == (9, 10) and partition_value(some, 2) == (None, None)
    missing = parse_state("t", None, None)
    assert partition_value(missing, 0) == (None, None) and not replaying(missing, 0)
