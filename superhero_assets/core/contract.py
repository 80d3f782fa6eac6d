"""The single source of truth for names other systems depend on.

Topics and their partitions, the Redis keys users know from the original README, and the
exact Arrow schema of every table the loader writes.
"""

from __future__ import annotations

import pyarrow as pa

# The game's two log topics.
LOBBY_TOPIC = "lib.server.lobby"
GAME_TOPIC = "lib.server.game"
# The original system created these topics idempotently at start-up, replication 1.
TOPIC_PARTITIONS: dict[str, int] = {
    GAME_TOPIC: 4,
    LOBBY_TOPIC: 2,
    "client.__main__": 1,
}
# The topics the batch ELT loads.
SOURCE_TOPICS: tuple[str, ...] = (LOBBY_TOPIC, GAME_TOPIC)

# A one-partition topic the stack uses to prove the broker works end to end.
PROBE_TOPIC = "superhero.stack.probe"

# The wire format, as the game writes it (the simulator's wire.py) and the loader reads it.
# Each timestamp as a strftime/strptime format (Python's and DuckDB's codes agree), as the
# exact text the game writes (zero-padded, nothing around it: strptime alone would take
# `2023-9-1` or surrounding spaces), and as an error message spells it out.
LOCAL_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"  # a record's timestamp: local, microseconds
LOCAL_TIMESTAMP_SHAPE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}"
LOCAL_TIMESTAMP_SPELLED = "YYYY-MM-DDTHH:MM:SS.ffffff"
TASK_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # a task's TIMESTAMP: UTC, to the second
TASK_TIMESTAMP_SHAPE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
TASK_TIMESTAMP_SPELLED = "YYYY-MM-DDTHH:MM:SSZ"
# The log messages the game writes. The first four carry a task the loader reads; the task
# of the last is a plain object, not a JSON-encoded string.
STARTING_MATCH = "Starting Match"
GAME_TIMED_OUT = "Game Timed Out"
ATTACK_COMPLETED = "Attack Completed"
ATTACKED_DEAD_ENEMY = "Attacked Dead Enemy"
CLEANING_GAME_RECORDS = "Cleaning Game Records"


def last_offset_key(topic: str) -> str:
    """JSON object {partition: last offset loaded}; the README's reset sets it to -1."""
    return f"kafka.partitions.{topic}.state.last_offset"


def counts_key(topic: str) -> str:
    """JSON object {partition: messages loaded so far}; the README's reset sets it to {"": 0}."""
    return f"kafka.partitions.{topic}.state.counts"


def binding_key(topic: str) -> str:
    """JSON object: the output root, its identity and the Kafka cluster the offsets are for."""
    return f"kafka.partitions.{topic}.state.binding"


def lock_key(topic: str, partition: int) -> str:
    """Held by the one run loading this topic-partition; its value is the fencing token."""
    return f"superhero.elt.lock.{topic}.{partition}"


def lock_pattern(topic: str) -> str:
    """Every partition lock of a topic, for SCAN."""
    return f"superhero.elt.lock.{topic}.*"


def identity_lock_key(output_root: str) -> str:
    """Held while a run gives a new output its identity (core/run/binding.py)."""
    return f"superhero.elt.identity.{output_root}"


def run_alive_key(run_id: str) -> str:
    """Present while the Dagster run's process lives (core/run/heartbeat.py), expiring after it."""
    return f"superhero.elt.run.{run_id}.alive"


def run_seen_key(run_id: str) -> str:
    """Set when the Dagster run first announced itself: it ran the ELT."""
    return f"superhero.elt.run.{run_id}.seen"


def fence_key(topic: str) -> str:
    """A counter whose every value is handed out once, as a fencing token."""
    return f"superhero.elt.fence.{topic}"


TS_MS = pa.timestamp("ms")
# Parquet has no seconds unit: pyarrow writes timestamp[s] as timestamp[ms] of whole seconds.
TS_S = pa.timestamp("s")
# Limits of the narrow columns: a value past one is NULL in its column and quarantined.
INT16_MAX, UINT8_MAX, UINT16_MAX = 32767, 255, 65535

RAW_MESSAGES = pa.schema(
    [
        ("topic", pa.string()),
        ("partition", pa.int32()),
        ("offset", pa.int64()),
        ("timestamp", TS_MS),
        ("timestamp_type", pa.int8()),
        ("key", pa.binary()),
        ("headers", pa.list_(pa.struct([("key", pa.string()), ("value", pa.binary())]))),
        ("value", pa.binary()),
    ]
)

ETL_META = pa.schema(
    [
        ("etl_id", pa.string()),
        ("service", pa.string()),
        ("mode", pa.string()),
        ("timestamp_start", TS_MS),
        ("timestamp_end", TS_MS),
    ]
)

BUFFER_META = pa.schema(
    [
        ("etl_id", pa.string()),
        ("msg_id", pa.string()),
        ("checksum", pa.string()),
        ("headers", pa.list_(pa.string())),
        ("key", pa.string()),
        ("offset", pa.uint64()),
        ("partition", pa.uint8()),
        ("serialized_key_size", pa.int16()),
        ("serialized_value_size", pa.int16()),
        ("timestamp", TS_MS),
        ("timestamp_type", pa.uint8()),
        ("topic", pa.string()),
        ("_is_protocol", pa.bool_()),
    ]
)

LOG_META = pa.schema(
    [
        ("etl_id", pa.string()),
        ("msg_id", pa.string()),
        ("level", pa.string()),
        ("timestamp", TS_MS),
        ("name", pa.string()),
        ("log_message", pa.string()),
    ]
)

LIB_SERVER_LOBBY = pa.schema(
    [
        ("etl_id", pa.string()),
        ("msg_id", pa.string()),
        ("timestamp", TS_S),
        ("game_token", pa.string()),
        ("user_token", pa.string()),
        ("superhero_id", pa.uint16()),
        ("superhero_attack", pa.uint64()),
        ("superhero_health", pa.uint64()),
    ]
)

LIB_SERVER_GAME = pa.schema(
    [
        ("etl_id", pa.string()),
        ("msg_id", pa.string()),
        ("timestamp", TS_S),
        ("game_token", pa.string()),
        ("user_token", pa.string()),
        ("action", pa.string()),
        ("enemy_token", pa.string()),
        ("enemy_damage", pa.uint64()),
        ("enemy_health_prior", pa.uint64()),
        ("enemy_health_post", pa.uint64()),
    ]
)

QUARANTINE = pa.schema(
    [
        ("etl_id", pa.string()),
        ("msg_id", pa.string()),
        ("topic", pa.string()),
        ("partition", pa.int32()),
        ("offset", pa.int64()),
        ("timestamp", TS_MS),
        ("error", pa.string()),
        ("value", pa.binary()),
    ]
)

# Every table the ELT derives from raw_messages, in the order they are written.
TABLES: dict[str, pa.Schema] = {
    "etl_meta": ETL_META,
    "buffer_meta": BUFFER_META,
    "log_meta": LOG_META,
    "lib_server_lobby": LIB_SERVER_LOBBY,
    "lib_server_game": LIB_SERVER_GAME,
    "quarantine": QUARANTINE,
}
# Tables fed by one topic only; every other table holds rows of every loaded topic.
TABLE_TOPIC: dict[str, str] = {
    "lib_server_lobby": LOBBY_TOPIC,
    "lib_server_game": GAME_TOPIC,
}


def table_topics(table: str, loaded: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The loaded topics whose messages can reach this table.

    A prefixed copy of a topic (`t1234.lib.server.game`, as tests and chaos runs load) feeds
    the same table as the topic itself.
    """
    own = TABLE_TOPIC.get(table)
    return tuple(t for t in loaded if own is None or t == own or t.endswith("." + own))


# Per-message tables, written one file per planned chunk of offsets.
CHUNKED_TABLES = ("buffer_meta", "log_meta", "lib_server_lobby", "lib_server_game", "quarantine")


def schema_on_read(schema: pa.Schema) -> pa.Schema:
    """The schema a Parquet reader sees: timestamp[s] columns come back as timestamp[ms]."""
    return pa.schema(
        [pa.field(f.name, TS_MS) if f.type == TS_S else f for f in schema],
    )
