"""Shards: which topic-partitions one run loads, when the load is split over N runs.

Partition p of every topic belongs to shard (p mod N) + 1. The assignment needs nothing
but N, so any process, on any machine, computes the same one; a partition added to a
topic later falls to a shard by the same rule.
"""

from __future__ import annotations

from dataclasses import dataclass

ENV_VAR = "SUPERHERO_SHARDS"


class ShardError(ValueError):
    """A shard was named wrongly; the message says how to name it."""


@dataclass(frozen=True, order=True)
class Shard:
    """Shard `index` of `count` (1-based): `superhero load --shard 2/3`."""

    index: int = 1
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 1 <= self.index <= self.count:
            raise ShardError(
                f"shard {self.index}/{self.count} does not exist: name one as K/N, with N "
                f"the number of shards ({ENV_VAR}) and K from 1 to N, e.g. 2/3"
            )

    @classmethod
    def parse(cls, text: str) -> Shard:
        index, slash, count = text.strip().partition("/")
        if not (slash and index.isdigit() and count.isdigit()):
            raise ShardError(f"{text!r} is not a shard: name one as K/N, e.g. 2/3")
        return cls(int(index), int(count))

    @property
    def is_whole(self) -> bool:
        """The only shard: every partition, as an unsharded load."""
        return self.count == 1

    @property
    def key(self) -> str:
        """The Dagster partition key of this shard: `2-of-3`."""
        return f"{self.index}-of-{self.count}"

    @classmethod
    def from_key(cls, key: str) -> Shard:
        index, _, count = key.partition("-of-")
        return cls.parse(f"{index}/{count}")

    def owns(self, partition: int) -> bool:
        return partition % self.count == self.index - 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def all_shards(count: int) -> list[Shard]:
    return [Shard(k, count) for k in range(1, count + 1)]


def shard_count(text: str | None) -> int:
    """N from SUPERHERO_SHARDS: 1 when unset."""
    if text is None or not text.strip():
        return 1
    if not text.strip().isdigit() or int(text) < 1:
        raise ShardError(f"{ENV_VAR}={text!r}: set it to the number of shards, 1 or more")
    return int(text)
