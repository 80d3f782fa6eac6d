"""Landing is all-or-nothing per chunk, and a chunk landed once is never read or parsed again.

Unit tests of the landing loop: the consumer is a stand-in that yields fixed batches (no
broker), parsing may fail on one batch, the files are real.
"""

import pyarrow.parquet as pq
import pytest

from superhero_assets.core import contract
from superhero_assets.core.parse import tables as parse
from superhero_assets.core.run import locks, pipeline
from superhero_assets.core.run.pending_run import PendingRun, PriorState
from superhero_assets.core.run.plan import Chunk, Plan
from superhero_assets.core.store.chunk_files import LANDED_BY, ChunkFiles
from superhero_assets.core.store.output_store import OutputStore
from tests.support import wire

GOOD = wire.attack("g", "a", "b", 1, 2, 1)
CHUNKS = [Chunk("lib.server.game", 0, 0, 29), Chunk("lib.server.game", 0, 30, 59)]


class NoConsumer:
    def close(self):
        pass


def batches(source, chunk, n):
    for first in range(chunk.first, chunk.last + 1, 10):
        yield wire.raw_table([GOOD] * 10, first_offset=first)


@pytest.fixture
def offline(monkeypatch):
    """The Loader's landing without a broker or Redis; returns the batches read, by chunk."""
    read: list[Chunk] = []

    def reading(source, chunk, n):
        read.append(chunk)
        return batches(source, chunk, n)

    monkeypatch.setattr(pipeline, "make_source", lambda config, topics: NoConsumer())
    monkeypatch.setattr(pipeline, "read_chunk", reading)
    monkeypatch.setattr(locks, "release_locks", lambda *a, **k: None)
    monkeypatch.setattr(pipeline.Loader, "_keep_locks", lambda self, pending: None)
    return read


def loader_for(store: OutputStore) -> pipeline.Loader:
    config = pipeline.LoaderConfig(topics=("lib.server.game",), return_memory=False)
    return pipeline.Loader({}, None, store, config)


def pending_for(etl_id: str) -> PendingRun:
    return PendingRun(
        Plan(etl_id, 1, "incremental", "now", [], CHUNKS), {}, {}, PriorState(), 0, "", ""
    )


@pytest.mark.parametrize("failing_offset", [0, 20, 40])
def test_a_chunk_with_a_failed_batch_has_no_file(tmp_path, monkeypatch, offline, failing_offset):
    real = parse.parse_batch

    def parse_or_fail(raw, etl_id, con=None, fast=True):
        if raw["offset"][0].as_py() == failing_offset:
            raise RuntimeError(f"cannot parse the batch at {failing_offset}")
        return real(raw, etl_id, con, fast)

    monkeypatch.setattr(pipeline, "parse_batch", parse_or_fail)
    store = OutputStore(str(tmp_path))
    with pytest.raises(RuntimeError, match="cannot parse"):
        loader_for(store).land(pending_for("e"))
    failed = next(c for c in CHUNKS if c.first <= failing_offset <= c.last)
    assert not store.exists(failed.relpath("raw_messages"))
    for table in ("buffer_meta", "log_meta", "lib_server_game"):
        assert not store.exists(failed.relpath(table))


def test_the_raw_file_is_written_last_so_a_chunk_cut_short_is_read_again(tmp_path, monkeypatch):
    store = OutputStore(str(tmp_path))
    real = store.write_bytes

    def fail_on_game(relpath, data):
        if relpath.startswith("lib_server_game/"):
            raise OSError("disk full")
        real(relpath, data)

    monkeypatch.setattr(store, "write_bytes", fail_on_game)
    files = ChunkFiles(store, CHUNKS[0], "e")
    files.add_all(parse.parse_batch(raw := wire.raw_table([GOOD] * 10), "e"))
    files.add("raw_messages", raw)
    with pytest.raises(OSError, match="disk full"):
        files.close(["raw_messages", *contract.CHUNKED_TABLES])
    assert not store.exists(CHUNKS[0].relpath("raw_messages"))


def test_a_redone_plan_takes_the_chunks_landed_before_from_their_footers(
    tmp_path, monkeypatch, offline
):
    """What an attempt that died landed is neither read from Kafka nor parsed again: its
    files stay as they are, and what they hold is counted from their footers."""
    store = OutputStore(str(tmp_path))
    first = loader_for(store).land(pending_for("e"))
    assert (first["raw_messages"].rows, first["raw_messages"].files) == (60, 2)
    chunked = ("raw_messages", *contract.CHUNKED_TABLES)
    written = {p: p.stat().st_mtime_ns for p in tmp_path.glob("*/**/0*.parquet")}
    assert len(written) == sum(first[name].files for name in chunked) > 2
    raw = pq.read_metadata(tmp_path / CHUNKS[0].relpath("raw_messages"))
    assert raw.metadata[LANDED_BY.encode()] == b"e"

    parsed = []
    monkeypatch.setattr(pipeline, "parse_batch", lambda *a, **k: parsed.append(a) or {})
    offline.clear()
    again = loader_for(store).land(pending_for("e"))
    assert offline == [] and parsed == []
    assert {p: p.stat().st_mtime_ns for p in written} == written
    for name in chunked:
        assert (again[name].rows, again[name].bytes, again[name].files) == (
            first[name].rows,
            first[name].bytes,
            first[name].files,
        ), name
        assert again[name].seconds == 0  # this attempt wrote none of them
    assert again["etl_meta"].files == 1  # the run's row, written anew


def test_a_replay_reads_again_the_chunks_another_plan_landed(tmp_path, offline):
    """A raw file another plan wrote (the run a reset replays) does not count as landed."""
    store = OutputStore(str(tmp_path))
    loader_for(store).land(pending_for("earlier"))
    offline.clear()
    replay = loader_for(store).land(pending_for("replay"))
    assert offline == CHUNKS
    assert replay["buffer_meta"].rows == 60 and replay["buffer_meta"].seconds > 0
    ids = pq.read_table(tmp_path / "buffer_meta").column("etl_id").unique().to_pylist()
    assert ids == ["replay"]


def test_a_chunk_whose_other_file_another_plan_wrote_is_read_again(tmp_path, offline):
    """Raw naming this plan is not enough: a table file left by another plan (a run that lost
    its lock and closed its chunk late, say) makes the chunk read and written again."""
    store = OutputStore(str(tmp_path))
    loader_for(store).land(pending_for("e"))
    stray = ChunkFiles(store, CHUNKS[1], "another")
    stray.add("buffer_meta", pq.read_table(tmp_path / CHUNKS[1].relpath("buffer_meta")))
    stray.close(["buffer_meta"])
    offline.clear()
    again = loader_for(store).land(pending_for("e"))
    assert offline == [CHUNKS[1]]
    footer = pq.read_metadata(tmp_path / CHUNKS[1].relpath("buffer_meta"))
    assert footer.metadata[LANDED_BY.encode()] == b"e"
    assert again["buffer_meta"].rows == 60


def test_a_raw_file_that_names_no_plan_is_read_again(tmp_path, offline):
    """A raw file written before files named their plan (an older version) is not landed."""
    store = OutputStore(str(tmp_path))
    loader_for(store).land(pending_for("e"))
    raw_path = tmp_path / CHUNKS[0].relpath("raw_messages")
    pq.write_table(pq.read_table(raw_path).replace_schema_metadata(None), raw_path)
    offline.clear()
    loader_for(store).land(pending_for("e"))
    assert offline == [CHUNKS[0]]
