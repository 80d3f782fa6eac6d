"""The Kafka-lag sensor, evaluated with build_sensor_context against the real stack."""

import hashlib
import time

import dagster as dg
import pytest
from confluent_kafka.admin import AdminClient

from superhero_assets.assets.sensors import Cursor, run_key
from superhero_assets.core import contract
from superhero_assets.core.kafka import lag
from superhero_assets.core.run import heartbeat, locks
from superhero_tools.stack.topics import ensure_topics
from tests.support import wire
from tests.support.elt_env import EltEnv
from tests.support.lag_sensor import evaluate

pytestmark = pytest.mark.integration


def lag_observation(result: dg.SensorResult) -> dg.AssetObservation:
    (obs,) = [e for e in result.asset_events if isinstance(e, dg.AssetObservation)]
    return obs


def freshness_of(result: dg.SensorResult) -> dict[str, dg.AssetCheckEvaluation]:
    """{table: its `fresh` evaluation} of one tick; empty when the tick reported none."""
    return {
        e.asset_key.path[-1]: e
        for e in result.asset_events
        if isinstance(e, dg.AssetCheckEvaluation) and e.check_name == "fresh"
    }


def expected_key(ends: dict[tuple[str, int], int]) -> str:
    """For a topic loaded from its start: each range runs from 0 to the high watermark."""
    text = ",".join(f"{t}:{p}=0-{h}" for (t, p), h in sorted(ends.items()))
    return "lag-" + hashlib.sha1(text.encode()).hexdigest()[:16]


def test_no_lag_gives_a_skip_that_states_the_lag(elt):
    with dg.instance_for_test() as instance:
        result = evaluate(elt, instance)
    assert not result.run_requests
    assert f"{elt.game}: 0" in result.skip_reason.skip_message
    obs = lag_observation(result)
    assert obs.metadata["lag_total"].value == 0


def test_lag_over_the_threshold_requests_one_run_with_a_deterministic_key(elt):
    elt.produce(elt.game, [wire.attack("g", "a", "b", 1, 2, 1)] * 12, 4)  # 3 per partition
    with dg.instance_for_test() as instance:
        result = evaluate(elt, instance)
    (request,) = result.run_requests
    ends = {(elt.game, p): 3 for p in range(4)} | {(elt.lobby, p): 0 for p in range(2)}
    assert request.run_key == expected_key(ends)
    obs = lag_observation(result)
    assert obs.metadata["lag_total"].value == 12
    assert obs.metadata[f"lag {elt.game}[2]"].value == 3


def test_the_same_state_twice_does_not_request_a_second_run(elt):
    elt.produce(elt.game, [wire.attack("g", "a", "b", 1, 2, 1)] * 12, 4)
    with dg.instance_for_test() as instance:
        first = evaluate(elt, instance)
        second = evaluate(elt, instance, cursor=first.cursor)
    assert len(first.run_requests) == 1
    assert not second.run_requests
    assert "already requested" in second.skip_reason.skip_message


def test_a_loaded_backlog_has_no_lag_and_lag_is_never_negative(elt):
    elt.produce(elt.game, [wire.attack("g", "a", "b", 1, 2, 1)] * 12, 4)
    elt.run()
    with dg.instance_for_test() as instance:
        result = evaluate(elt, instance, threshold=1)
    assert not result.run_requests
    assert lag_observation(result).metadata["lag_total"].value == 0


def test_a_stale_message_triggers_a_run_by_age(elt):
    elt.produce(elt.game, [wire.attack("g", "a", "b", 1, 2, 1)], 1)
    with dg.instance_for_test() as instance:
        fresh = evaluate(elt, instance, threshold=1000, max_age_s=6.0)
        time.sleep(6.5)
        stale = evaluate(elt, instance, threshold=1000, max_age_s=6.0)
    assert not fresh.run_requests
    (request,) = stale.run_requests
    assert request.tags["superhero/reason"].startswith("stale")


def test_a_recreated_topic_is_an_error_on_the_tick_and_in_the_observation(elt):
    """The stored offset is past the high watermark: never lag 0, as `superhero load` refuses."""
    elt.produce(elt.game, [wire.attack("g", "a", "b", 1, 2, 1)] * 12, 4)
    elt.run()
    admin = AdminClient({"bootstrap.servers": elt.stack.kafka_bootstrap_servers})
    for future in admin.delete_topics([elt.game]).values():
        future.result(30)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and elt.game in admin.list_topics(timeout=10).topics:
        time.sleep(0.5)  # deletion finishes in the background
    ensure_topics(elt.stack.kafka_bootstrap_servers, {elt.game: 4})
    elt.produce(elt.game, [wire.attack("g", "a", "b", 1, 2, 1)] * 4, 4)  # 1 per partition
    with dg.instance_for_test() as instance:
        with pytest.raises(Exception, match="past the broker's high watermark") as raised:
            evaluate(elt, instance, threshold=1)
        assert "reset" in str(raised.value)
        (event,) = instance.fetch_observations(dg.AssetKey("kafka_offsets"), limit=1).records
        fresh = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(dg.AssetKey("lib_server_game"), "fresh")]
        )
    # Never left green: the table's freshness is a failure that says why.
    (record,) = fresh.values()
    assert not record.evaluation.passed
    assert "past the broker's high watermark" in record.evaluation.description
    metadata = event.asset_observation.metadata
    assert "past the broker's high watermark" in metadata[f"lag {elt.game}[0]"].value
    assert metadata[f"lag {elt.lobby}[0]"].value == 0  # the other topic is still measured


def test_a_failed_run_is_retried_with_a_new_deterministic_key(elt):
    elt.produce(elt.game, [wire.attack("g", "a", "b", 1, 2, 1)] * 12, 4)

    @dg.asset
    def fails():
        raise RuntimeError("the run failed")

    with dg.instance_for_test() as instance:
        first = evaluate(elt, instance)
        (request,) = first.run_requests
        dg.materialize(
            [fails],
            instance=instance,
            tags={"dagster/run_key": request.run_key},
            raise_on_error=False,
        )
        backing_off = evaluate(elt, instance, cursor=first.cursor)
        time.sleep(5.2)  # the first retry waits 5 s after the failure
        retry = evaluate(elt, instance, cursor=first.cursor)
    assert not backing_off.run_requests and "waits" in backing_off.skip_reason.skip_message
    (again,) = retry.run_requests
    assert again.run_key == request.run_key + "-retry1"


def test_a_started_run_without_a_heartbeat_is_failed_and_its_work_requested_again(elt):
    """Dagster's default launcher cannot see a killed run: it stays STARTED and holds the pool."""
    elt.produce(elt.game, [wire.attack("g", "a", "b", 1, 2, 1)] * 12, 4)
    with dg.instance_for_test() as instance:
        alive = instance.add_run(
            dg.DagsterRun(job_name="superhero_elt_job", status=dg.DagsterRunStatus.STARTED)
        )
        heartbeat.announce_run(elt.redis(), alive.run_id, ttl_ms=60_000)
        # "Materialize all" runs the ELT in another job; an unrelated job never announces.
        ui_run = instance.add_run(
            dg.DagsterRun(job_name="__ASSET_JOB", status=dg.DagsterRunStatus.STARTED)
        )
        heartbeat.announce_run(elt.redis(), ui_run.run_id, ttl_ms=60_000)
        other = instance.add_run(
            dg.DagsterRun(job_name="unrelated", status=dg.DagsterRunStatus.STARTED)
        )
        time.sleep(3.2)  # three times the 1 s TTL below: no longer "starting"
        busy = evaluate(elt, instance, lock_ttl_s=1)
        assert not busy.run_requests and "still loading" in busy.skip_reason.skip_message
        for run in (alive, ui_run):  # their processes died
            elt.redis().delete(contract.run_alive_key(run.run_id))
        retry = evaluate(elt, instance, lock_ttl_s=1)
        statuses = [instance.get_run_by_id(r.run_id).status for r in (alive, ui_run, other)]
    assert statuses == [
        dg.DagsterRunStatus.FAILURE,
        dg.DagsterRunStatus.FAILURE,
        dg.DagsterRunStatus.STARTED,
    ]
    assert len(retry.run_requests) == 1


def test_offsets_of_another_output_fail_the_tick_instead_of_requesting_doomed_runs(elt, tmp_path):
    elt.produce(elt.game, [wire.attack("g", "a", "b", 1, 2, 1)] * 12, 4)
    elt.run()
    elt.produce(elt.game, [wire.attack("g", "a", "b", 1, 2, 1)] * 12, 4)
    moved = EltEnv(elt.stack, elt.lobby, elt.game, tmp_path / "elsewhere")
    with (
        dg.instance_for_test() as instance,
        pytest.raises(Exception, match="not for OUTPUT_FS=") as raised,
    ):
        evaluate(moved, instance, threshold=1)
    assert "superhero output adopt" in str(raised.value)


def test_a_queued_materialize_all_holds_the_sensor_back(elt):
    """A run asked for behind it would load nothing, and skip every check."""
    elt.produce(elt.game, [wire.attack("g", "a", "b", 1, 2, 1)] * 12, 4)
    with dg.instance_for_test() as instance:
        queued = instance.add_run(
            dg.DagsterRun(
                job_name="__ASSET_JOB",
                status=dg.DagsterRunStatus.NOT_STARTED,  # launched, in the queue
                asset_selection=frozenset({dg.AssetKey("raw_messages"), dg.AssetKey("etl_meta")}),
            )
        )
        held = evaluate(elt, instance)
        instance.report_run_canceled(queued)
        free = evaluate(elt, instance)
    assert not held.run_requests
    assert f"run {queued.run_id} is still loading" in held.skip_reason.skip_message
    assert len(free.run_requests) == 1


def test_a_topic_locked_by_another_run_requests_nothing(elt):
    elt.produce(elt.game, [wire.attack("g", "a", "b", 1, 2, 1)] * 12, 4)
    # e.g. a `superhero load --shard 1/4`
    tokens = locks.acquire_locks(elt.redis(), [(elt.game, 0)], 30_000)
    try:
        with dg.instance_for_test() as instance:
            result = evaluate(elt, instance)
    finally:
        locks.release_locks(elt.redis(), tokens)
    assert not result.run_requests
    assert (
        "holds" in result.skip_reason.skip_message
        and f"{elt.game}:0" in result.skip_reason.skip_message
    )


def test_the_run_key_changes_once_a_run_made_progress():
    before = [lag.PartitionLag("t", 0, next_offset=0, high=10)]
    after_a_smaller_plan = [lag.PartitionLag("t", 0, next_offset=6, high=10)]
    assert run_key(before) != run_key(after_a_smaller_plan)
    assert run_key(before) == run_key([lag.PartitionLag("t", 0, 0, 10)])


def test_a_caught_up_pipeline_stays_fresh_however_long_it_idles(elt):
    """Freshness follows the data: no run for longer than the window, nothing unloaded."""
    elt.produce(elt.game, [wire.attack("g", "a", "b", 1, 2, 1)] * 8, 4)
    elt.run()
    with dg.instance_for_test() as instance:
        first = evaluate(elt, instance, threshold=1000, fresh_for_s=(1.0, 2.0))
        time.sleep(2.5)  # past both windows since the last run
        later = evaluate(elt, instance, threshold=1000, fresh_for_s=(1.0, 2.0))
    for tick in (first, later):
        checked = freshness_of(tick)
        assert set(checked) == set(contract.TABLES)
        assert all(e.passed for e in checked.values()), checked
        assert checked["lib_server_game"].metadata["state"].value == "fresh"
        assert checked["lib_server_game"].metadata["unloaded_messages"].value == 0


def test_unloaded_messages_older_than_the_window_turn_their_tables_late_then_stale(elt):
    """Only the tables the waiting topic feeds: the lobby table stays fresh."""
    elt.produce(elt.game, [wire.attack("g", "a", "b", 1, 2, 1)] * 4, 4)
    produced, window = time.monotonic(), (8.0, 16.0)

    def tick(cursor=None) -> dg.SensorResult:
        return evaluate(elt, instance, cursor, threshold=1000, fresh_for_s=window)

    def sleep_until(age_s: float) -> None:
        time.sleep(max(produced + age_s - time.monotonic(), 0))

    with dg.instance_for_test() as instance:
        young = tick()
        unchanged = tick(young.cursor)
        assert time.monotonic() - produced < window[0], "the first ticks took too long"
        sleep_until(window[0] + 0.5)
        late = tick(young.cursor)
        sleep_until(window[1] + 0.5)
        stale = tick(late.cursor)
    assert all(e.passed for e in freshness_of(young).values())
    assert freshness_of(unchanged) == {}  # the same answer is not repeated at every tick
    game = freshness_of(late)["lib_server_game"]
    assert not game.passed and game.severity == dg.AssetCheckSeverity.WARN
    assert game.metadata["state"].value == "late"
    assert game.metadata["unloaded_messages"].value == 4
    assert game.metadata["oldest_unloaded_age_s"].value >= window[0]
    assert freshness_of(late)["lib_server_lobby"].passed
    game = freshness_of(stale)["lib_server_game"]
    assert not game.passed and game.severity == dg.AssetCheckSeverity.ERROR
    assert game.metadata["state"].value == "stale"
    assert freshness_of(stale)["buffer_meta"].metadata["state"].value == "stale"
    assert freshness_of(stale)["lib_server_lobby"].metadata["state"].value == "fresh"


def test_a_cursor_written_before_freshness_was_reported_still_parses():
    old = Cursor.parse('{"run_key": "lag-0123", "requested_ends": {"t:0": 3}}')
    assert old.run_keys == {"1-of-1": "lag-0123"} and old.requested_ends == {"t:0": 3}
    assert old.fresh_report.states == {} and old.fresh_report.reported_at == 0.0
    assert Cursor.parse(old.dump()) == old
