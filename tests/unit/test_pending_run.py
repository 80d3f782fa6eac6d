"""The run in progress as _manifest/pending.json holds it: typed, and readable across versions."""

import json

from superhero_assets.core.run.pending_run import PendingRun, PriorState
from superhero_assets.core.run.plan import Chunk, PartitionRange, Plan


def a_pending_run() -> PendingRun:
    plan = Plan(
        "etl-1",
        3,
        "incremental",
        "2026-12-02T08:00:00.000+00:00",
        [PartitionRange("lib.server.game", 1, 10, 19, 0, 20)],
        [Chunk("lib.server.game", 1, 10, 19)],
    )
    return PendingRun(
        plan=plan,
        tokens={"lib.server.game:1": "7"},
        expected={"lib.server.game": ['{"1": 9}', '{"1": 10}']},
        prior=PriorState({"lib.server.game": {1: 9}}, {"lib.server.game": {1: 10}}),
        started_at=1_764_662_400_000,
        run_id="dagster-run",
        binding='{"output_root": "/data"}',
    )


def test_a_pending_run_survives_its_json_file_unchanged():
    pending = a_pending_run()
    text = json.dumps(pending.to_json())
    assert PendingRun.from_json(json.loads(text)) == pending
    # Partitions are JSON object keys (text) on disk and ints in the run.
    assert json.loads(text)["prior"]["offsets"] == {"lib.server.game": {"1": 9}}
    assert PendingRun.from_json(json.loads(text)).prior.offsets["lib.server.game"][1] == 9


def test_a_pending_run_an_earlier_version_left_is_still_redone():
    written = a_pending_run().to_json()
    # Earlier versions noted the chunks derived while landing, with or without seconds.
    written["derived"] = {"lib.server.game/001/x": {"log_meta": [10, 500]}}
    # Before shards, tokens were per topic: they lock nothing now, and are dropped.
    written["tokens"] = {"lib.server.game": "7"}
    assert PendingRun.from_json(written).tokens == {}
    redone = PendingRun.from_json(written).redone_by({"lib.server.game:1": "8"}, {}, "next", "{}")
    assert redone.plan == a_pending_run().plan
    assert redone.tokens == {"lib.server.game:1": "8"} and redone.run_id == "next"
    assert "derived" not in redone.to_json()  # not needed any more: ignored, not written back
    # Older still: no run_id or binding yet.
    del written["run_id"], written["binding"]
    assert PendingRun.from_json(written).plan == a_pending_run().plan
