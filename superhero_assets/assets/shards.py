"""The ELT's shards as Dagster partitions, from SUPERHERO_SHARDS when the definitions load.

With one shard (the default) the ELT is unpartitioned, as it always was, and its assets share
the pool `superhero_elt`, which dagster.yaml caps at one run. With N shards, the ELT assets
are partitioned by shard (`1-of-3`, `2-of-3`, `3-of-3`): one run loads one shard, so
"Materialize all", a backfill or the lag sensor start N runs that go at once, and
dagster.yaml's limit of one run per `dagster/partition` tag keeps each shard to one run at a
time (the Redis locks refuse a second run from anywhere else). Partitions, not one step per
shard in one run: a shard's run fails, retries and shows its checks on its own, and the
runs can be launched on different machines by the run launcher.
"""

import os

import dagster as dg

from superhero_assets.core.run.shard import ENV_VAR, Shard, all_shards, shard_count

SHARD_COUNT = shard_count(os.environ.get(ENV_VAR))
ONE_RUN_POOL = "superhero_elt"


def shards_definition(count: int) -> dg.StaticPartitionsDefinition | None:
    if count == 1:
        return None
    return dg.StaticPartitionsDefinition([s.key for s in all_shards(count)])


SHARDS = shards_definition(SHARD_COUNT)
# Shards run at once: they share no pool (a pool is one limit for every partition).
ELT_POOL = ONE_RUN_POOL if SHARDS is None else None


def shard_of(context: dg.AssetExecutionContext) -> Shard:
    """The shard this run loads: every partition, when the ELT is not partitioned."""
    if not context.has_partition_key:
        return Shard()
    return Shard.from_key(context.partition_key)
