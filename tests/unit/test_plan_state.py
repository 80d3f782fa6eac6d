"""Unit tests of planning and of reading the Redis state (pure functions)."""

import pytest

from superhero_assets.core.run.plan import Chunk, PlanError, chunk_range, make_etl_id, plan_range
from superhero_assets.core.run.state import StateError, parse_state


def test_a_range_runs_from_the_next_offset_to_the_snapshot():
    rng = plan_range("t", 0, 42, low=0, high=100)
    assert (rng.start, rng.end, rng.size, rng.gap) == (42, 99, 58, None)
    assert plan_range("t", 0, None, low=7, high=10).start == 7
    assert plan_range("t", 0, 10, low=0, high=10).size == 0


def test_offsets_lost_to_retention_become_a_recorded_gap():
    rng = plan_range("t", 1, 5, low=20, high=30)
    assert (rng.start, rng.gap) == (20, (5, 19))


def test_a_stored_offset_past_the_high_watermark_says_how_to_reset():
    with pytest.raises(PlanError, match="SET|reset commands"):
        plan_range("t", 0, 500, low=0, high=10)


def test_chunks_are_bounded_and_cover_the_range():
    rng = plan_range("t", 2, 0, low=0, high=250)
    _, chunks = chunk_range(rng, 100)
    assert chunks == [Chunk("t", 2, 0, 99), Chunk("t", 2, 100, 199), Chunk("t", 2, 200, 249)]
    assert chunks[0].relpath("log_meta") == (
        "log_meta/t/002/00000000000000000000-00000000000000000099.parquet"
    )


def test_a_replay_reuses_the_chunk_boundaries_it_replaces():
    rng = plan_range("t", 0, None, low=0, high=400)
    _, chunks = chunk_range(rng, 100, history=[(0, 149), (150, 150), (151, 320)])
    assert [(c.first, c.last) for c in chunks] == [(0, 149), (150, 150), (151, 320), (321, 399)]


def test_a_replay_keeps_an_old_chunk_it_can_no_longer_fully_reread():
    rng = plan_range("t", 0, None, low=50, high=300)
    rng, chunks = chunk_range(rng, 100, history=[(0, 99), (100, 199)])
    assert rng.kept == ((0, 99),)
    assert [(c.first, c.last) for c in chunks] == [(100, 199), (200, 299)]


def test_etl_id_is_deterministic_from_the_plan():
    ranges = [plan_range("t", 0, 0, 0, 10)]
    assert make_etl_id(3, "incremental", ranges) == make_etl_id(3, "incremental", ranges)
    assert make_etl_id(3, "incremental", ranges) != make_etl_id(4, "incremental", ranges)


@pytest.mark.parametrize(
    ("last", "counts", "status"),
    [
        (None, None, "missing"),
        ("-1", '{"": 0}', "reset"),  # the original README's reset commands, verbatim
        ("-1", None, "reset"),
        ('{"0": 41, "3": 17}', '{"0": 42, "3": 18}', "ok"),
    ],
)
def test_the_readme_keys_are_read_as_users_know_them(last, counts, status):
    st = parse_state("lib.server.game", last, counts)
    assert st.status == status
    if status == "ok":
        assert st.last_offset == {0: 41, 3: 17} and st.counts == {0: 42, 3: 18}


@pytest.mark.parametrize("last", ["not json", '"text"', '{"zero": 1}'])
def test_a_garbled_state_says_how_to_reset(last):
    with pytest.raises(StateError, match="SET kafka.partitions.t.state.last_offset -1"):
        parse_state("t", last, "{}")


def test_a_chunk_is_read_back_from_its_file_name_and_other_files_are_not_chunks():
    from superhero_assets.core.run.plan import Chunk

    chunk = Chunk("lib.server.game", 3, 10, 19)
    assert Chunk.from_relpath(chunk.relpath("buffer_meta")) == chunk
    assert Chunk.from_relpath("etl_meta/6f1c.parquet") is None
