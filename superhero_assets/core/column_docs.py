"""What each table and column means: the descriptions the Dagster UI shows beside the schema.

Kept beside contract.py, one entry per contract column; tests/unit/test_column_docs.py fails when
a column gains no description or a description outlives its column.
"""

from __future__ import annotations

_ETL = "The batch run that wrote the row (etl_meta.etl_id)."
_MSG_ID = "The Kafka message the row came from, as topic:partition:offset."

TABLE_DESCRIPTIONS: dict[str, str] = {
    "raw_messages": "Every Kafka message of each run, landed losslessly as Parquet: the replay "
    "source for the tables.",
    "etl_meta": "One row per batch run: its etl_id, service, mode, start and end.",
    "buffer_meta": "One row per Kafka message read: where it came from, its sizes and checksum.",
    "log_meta": "One row per loaded log record: level, time, logger and message.",
    "lib_server_lobby": "One row per participant listed in each 'Starting Match' record. Every "
    "player of a match logs its own 'Starting Match' listing all N players, so a match of N "
    "players has N x N rows: group by game_token and user_token for one row per player.",
    "lib_server_game": "One row per 'Attack Completed' record: who hit whom, and for how much.",
    "quarantine": "Messages that could not be loaded, with the reason and the raw value; "
    "they are not in the other tables.",
}

COLUMN_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "raw_messages": {
        "topic": "Kafka topic.",
        "partition": "Kafka partition.",
        "offset": "Kafka offset within the partition.",
        "timestamp": "Kafka timestamp of the message (UTC).",
        "timestamp_type": "Kafka timestamp type: 1 set by the producer, 2 by the broker.",
        "key": "Message key, bytes as produced (NULL when none).",
        "headers": "Message headers, key and bytes, in order.",
        "value": "Message value, bytes as produced.",
    },
    "etl_meta": {
        "etl_id": "Identifier of the batch run, derived from its plan (the same on a redo).",
        "service": "Source service: always Kafka.",
        "mode": "Load mode: always Batch.",
        "timestamp_start": "When the run planned its offsets (UTC).",
        "timestamp_end": "When the run's tables were written (UTC).",
    },
    "buffer_meta": {
        "etl_id": _ETL,
        "msg_id": _MSG_ID,
        "checksum": "CRC-32 of the message value, as 8 hex digits.",
        "headers": "Headers as key=value text (key alone when the value is NULL).",
        "key": "Message key as UTF-8 text (NULL when none).",
        "offset": "Kafka offset within the partition.",
        "partition": "Kafka partition.",
        "serialized_key_size": "Key size in bytes; -1 when there is no key.",
        "serialized_value_size": "Value size in bytes; -1 when there is no value.",
        "timestamp": "Kafka timestamp of the message (UTC).",
        "timestamp_type": "Kafka timestamp type: 1 set by the producer, 2 by the broker.",
        "topic": "Kafka topic.",
        "_is_protocol": "Always false: protocol messages are not loaded.",
    },
    "log_meta": {
        "etl_id": _ETL,
        "msg_id": _MSG_ID,
        "level": "Log level of the record (INFO, WARNING, ...).",
        "timestamp": "When the game logged the record, in the server's local time.",
        "name": "Logger name (the game module that logged it).",
        "log_message": "Log message, e.g. 'Starting Match' or 'Attack Completed'.",
    },
    "lib_server_lobby": {
        "etl_id": _ETL,
        "msg_id": _MSG_ID + " One message gives a row per participant.",
        "timestamp": "When the match started (UTC, whole seconds).",
        "game_token": "The match.",
        "user_token": "The participant this row describes.",
        "superhero_id": "The participant's hero (Super Hero API id).",
        "superhero_attack": "The hero's attack at the start of the match.",
        "superhero_health": "The hero's health at the start of the match.",
    },
    "lib_server_game": {
        "etl_id": _ETL,
        "msg_id": _MSG_ID,
        "timestamp": "When the attack completed (UTC, whole seconds).",
        "game_token": "The match.",
        "user_token": "The attacking player.",
        "action": "What the attacker did (the game's action name).",
        "enemy_token": "The player attacked.",
        "enemy_damage": "Damage dealt by the attack.",
        "enemy_health_prior": "The enemy's health before the attack.",
        "enemy_health_post": "The enemy's health after the attack.",
    },
    "quarantine": {
        "etl_id": _ETL,
        "msg_id": _MSG_ID,
        "topic": "Kafka topic.",
        "partition": "Kafka partition.",
        "offset": "Kafka offset within the partition.",
        "timestamp": "Kafka timestamp of the message (UTC).",
        "error": "Why the message could not be loaded; several reasons are joined by '; '.",
        "value": "Message value, bytes as produced, to inspect or replay.",
    },
}
