"""The single source of truth for names other systems depend on: topics and their partitions."""

from __future__ import annotations

# The original system created these topics idempotently at start-up, replication 1.
TOPIC_PARTITIONS: dict[str, int] = {
    "lib.server.game": 4,
    "lib.server.lobby": 2,
    "client.__main__": 1,
}

# A one-partition topic the stack uses to prove the broker works end to end.
PROBE_TOPIC = "superhero.stack.probe"
