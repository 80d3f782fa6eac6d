"""Per-partition locks with fencing tokens: one run loads a topic-partition at a time.

A lock is named `topic:partition`. Runs of different shards take disjoint sets and run at
once; two runs wanting one partition cannot both hold it. Every token is handed out once
(a counter per topic), so a run that lost its lock is fenced out of the commit.
"""

from __future__ import annotations

from collections.abc import Iterable

import redis

from superhero_assets.core import contract
from superhero_assets.core.run.state import StateError

# {lock name: fencing token} of the locks a run holds.
Tokens = dict[str, str]


def lock_name(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"


def split_name(name: str) -> tuple[str, int]:
    topic, _, partition = name.rpartition(":")
    return topic, int(partition)


def lock_key_of(name: str) -> str:
    return contract.lock_key(*split_name(name))


def names_of(partitions: Iterable[tuple[str, int]]) -> list[str]:
    """Lock names in the one order every run takes them in, so two runs never deadlock."""
    return [lock_name(t, p) for t, p in sorted(set(partitions))]


_RELEASE = """
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i] then redis.call('DEL', key) end
end
return 1
"""

_REFRESH = """
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) ~= ARGV[i] then return 0 end
end
for i, key in ipairs(KEYS) do redis.call('PEXPIRE', key, ARGV[#KEYS + 1]) end
return 1
"""


def acquire_locks(r: redis.Redis, partitions: Iterable[tuple[str, int]], ttl_ms: int) -> Tokens:
    """Lock every (topic, partition) given, or none of them."""
    tokens: Tokens = {}
    for name in names_of(partitions):
        topic, partition = split_name(name)
        token = str(r.incr(contract.fence_key(topic)))
        if not r.set(contract.lock_key(topic, partition), token, nx=True, px=ttl_ms):
            release_locks(r, tokens)
            holder = r.get(contract.lock_key(topic, partition))
            ttl = r.pttl(contract.lock_key(topic, partition))
            raise StateError(
                f"Another run holds the lock on {topic}[{partition}] (fencing token "
                f"{holder.decode() if holder else '?'}, expires in {max(ttl, 0) / 1000:.0f}s). "
                "Wait for it to finish; a run that died releases it when the lock expires."
            )
        tokens[name] = token
    return tokens


def refresh_locks(r: redis.Redis, tokens: Tokens, ttl_ms: int) -> bool:
    keys = [lock_key_of(n) for n in tokens]
    return bool(r.eval(_REFRESH, len(keys), *keys, *tokens.values(), ttl_ms))


def release_locks(r: redis.Redis, tokens: Tokens) -> None:
    if tokens:
        keys = [lock_key_of(n) for n in tokens]
        r.eval(_RELEASE, len(keys), *keys, *tokens.values())


def held_locks(r: redis.Redis, topics: Iterable[str]) -> list[str]:
    """The lock names any run holds now on these topics."""
    prefix = len("superhero.elt.lock.")
    found = []
    for topic in topics:
        for key in r.scan_iter(match=contract.lock_pattern(topic), count=1000):
            topic_and_partition = key.decode()[prefix:]
            t, _, p = topic_and_partition.rpartition(".")
            if t == topic and p.isdigit():
                found.append(lock_name(t, int(p)))
    return sorted(found)
