"""After the chaos: the asset checks' questions (quality/table_checks.py) over the whole output.

The Dagster asset checks ask them of one run; here every finished run in the manifest is
asked, plus the whole-table questions, plus "is everything committed and nothing pending".
"""

from __future__ import annotations

import redis

from superhero_assets.core import contract
from superhero_assets.core.kafka.consume import make_consumer, watermarks
from superhero_assets.core.quality import table_checks
from superhero_assets.core.run import manifest, state
from superhero_assets.core.run.plan import Plan
from superhero_assets.core.store.output_store import OutputStore

QUARANTINE_WARN_RATE = 0.01  # the asset check's warning threshold (not a failure)


def run_checks(
    store: OutputStore, r: redis.Redis, bootstrap: str, topics: tuple[str, ...]
) -> tuple[dict[str, bool], dict[str, object]]:
    """({check: passed}, {check: detail of a failure or a warning})."""
    passed: dict[str, bool] = {}
    detail: dict[str, object] = {}
    for table in ("raw_messages", *contract.TABLES):
        bad = table_checks.schema_mismatches(store, table, store.list(table, ".parquet"))
        passed[f"{table}_schema_matches_contract"] = not bad
        if bad:
            detail[f"{table}_schema_matches_contract"] = dict(list(bad.items())[:3])
    for table in ("buffer_meta", "log_meta", "quarantine"):
        dups = table_checks.duplicate_msg_ids(store, table)
        passed[f"{table}_msg_id_unique"] = dups == 0
        if dups:
            detail[f"{table}_msg_id_unique"] = dups
    holes = table_checks.offset_holes(store)
    passed["buffer_meta_offsets_contiguous"] = not holes
    if holes:
        detail["buffer_meta_offsets_contiguous"] = holes
    per_run = {"buffer_meta_rows_equal_messages_read": [], "lobby_rows_equal_participants": []}
    per_run["game_rows_equal_attacks"] = []
    noisy_runs = []
    for entry in manifest.run_entries(store):
        plan = Plan.from_json(entry)
        read = table_checks.row_count(store, table_checks.run_files(store, plan, "raw_messages"))
        rows = {
            t: table_checks.row_count(store, table_checks.run_files(store, plan, t))
            for t in contract.TABLES
        }
        if rows["buffer_meta"] != read:
            per_run["buffer_meta_rows_equal_messages_read"].append(plan.etl_id)
        if rows["lib_server_lobby"] != table_checks.expected_lobby_rows(store, plan):
            per_run["lobby_rows_equal_participants"].append(plan.etl_id)
        if rows["lib_server_game"] != table_checks.attack_messages(store, plan):
            per_run["game_rows_equal_attacks"].append(plan.etl_id)
        if read and rows["quarantine"] / read > QUARANTINE_WARN_RATE:
            noisy_runs.append(plan.etl_id)
    for name, failed in per_run.items():
        passed[name] = not failed
        if failed:
            detail[name] = failed
    if noisy_runs:  # a warning, as in Dagster: small runs may pass 1% by chance
        detail["quarantine_rate_is_low (warning)"] = f"{len(noisy_runs)} runs above 1%"
    passed["nothing_pending"] = not manifest.read_pendings(store)
    behind = uncommitted(store, r, bootstrap, topics)
    passed["redis_offsets_reach_the_end"] = not behind
    if behind:
        detail["redis_offsets_reach_the_end"] = behind
    return passed, detail


def uncommitted(
    store: OutputStore, r: redis.Redis, bootstrap: str, topics: tuple[str, ...]
) -> dict[str, str]:
    """{topic[partition]: "committed/high"} wherever the state is not at the high watermark.

    The state is Redis's, or the manifest's head where Redis lost it (what a run would use).
    """
    head = manifest.read_head(store)
    consumer = make_consumer({"bootstrap.servers": bootstrap})
    behind = {}
    try:
        for topic in topics:
            committed = {
                **manifest.head_offsets(head, topic),
                **state.read_state(r, topic).last_offset,
            }
            for partition, (_low, high) in watermarks(consumer, topic).items():
                if committed.get(partition, -1) != high - 1:
                    behind[f"{topic}[{partition}]"] = f"{committed.get(partition)}/{high - 1}"
    finally:
        consumer.close()
    return behind
