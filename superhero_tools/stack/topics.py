"""Idempotent topic set-up: create what is missing, grow what has too few partitions."""

from __future__ import annotations

import time

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic

from superhero_tools.stack import StackError, kafka


def ensure_topics(
    bootstrap_servers: str,
    wanted: dict[str, int],
    timeout_s: float = 30.0,
    replication: int | None = None,
) -> dict[str, int]:
    """Make every topic in `wanted` exist with at least that many partitions; returns the counts.

    A new topic is replicated as the cluster allows: on three brokers or more, three copies
    with min.insync.replicas=2 and no unclean leader election, so acks=all survives the
    loss of one broker; on one broker, one copy. replication, when given (the stack knows
    how many nodes it runs), is required rather than sized from the brokers alive now, so a
    node that is down refuses the topic instead of giving it fewer copies.
    """
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    metadata = admin.list_topics(timeout=timeout_s)
    existing = metadata.topics
    factor, min_insync = kafka.replication(replication or len(metadata.brokers) or 1)
    config = {
        "min.insync.replicas": str(min_insync),
        "unclean.leader.election.enable": "false",
    }
    missing = [
        NewTopic(name, num_partitions=n, replication_factor=factor, config=config)
        for name, n in wanted.items()
        if name not in existing
    ]
    if missing:
        for name, future in admin.create_topics(missing, operation_timeout=timeout_s).items():
            try:
                future.result()
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise StackError(f"Could not create topic {name}: {exc}") from exc
    current = _settled_counts(admin, wanted, timeout_s)
    grow = [NewPartitions(name, n) for name, n in wanted.items() if current.get(name, 0) < n]
    if grow:
        for name, future in admin.create_partitions(grow, operation_timeout=timeout_s).items():
            try:
                future.result()
            except KafkaException as exc:
                # Another caller (or metadata that was late) got there first: fine.
                if exc.args[0].code() != KafkaError.INVALID_PARTITIONS:
                    raise StackError(
                        f"Could not grow topic {name} to {wanted[name]} partitions: {exc}"
                    ) from exc
        current = _settled_counts(admin, wanted, timeout_s)
    short = {n: c for n, c in current.items() if c < wanted[n]}
    if short:
        raise StackError(f"Topics still have too few partitions: {short}; wanted {wanted}")
    return current


def _settled_counts(
    admin: AdminClient, wanted: dict[str, int], timeout_s: float, settle_s: float = 10.0
) -> dict[str, int]:
    """Partition counts, re-read briefly while a just-created topic's metadata spreads."""
    deadline = time.monotonic() + settle_s
    while True:
        current = partition_counts(admin, list(wanted), timeout_s)
        if all(current.get(n, 0) >= w for n, w in wanted.items()) or time.monotonic() > deadline:
            return current
        time.sleep(0.2)


def partition_counts(
    admin: AdminClient, names: list[str], timeout_s: float = 30.0
) -> dict[str, int]:
    topics = admin.list_topics(timeout=timeout_s).topics
    return {name: len(topics[name].partitions) for name in names if name in topics}
