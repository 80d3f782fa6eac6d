"""A batch that fails to parse leaves no file for its chunk, so a retry reads it again.

Unit test of the landing loop's failure handling: the consumer is a stand-in that yields
fixed batches (no broker), parsing fails on one batch, the files are real.
"""

import pytest

from superhero_assets.core.parse import tables as parse
from superhero_assets.core.run import pipeline, state
from superhero_assets.core.run.pending_run import PendingRun, PriorState
from superhero_assets.core.run.plan import Chunk, Plan
from superhero_assets.core.store.output_store import OutputStore
from tests.support import wire

GOOD = wire.attack("g", "a", "b", 1, 2, 1)


class NoConsumer:
    def close(self):
        pass


def batches(source, chunk, n):
    for first in range(chunk.first, chunk.last + 1, 10):
        yield wire.raw_table([GOOD] * 10, first_offset=first)


@pytest.mark.parametrize("failing_offset", [0, 20, 40])
def test_a_chunk_with_a_failed_batch_has_no_file(tmp_path, monkeypatch, failing_offset):
    real = parse.parse_batch

    def parse_or_fail(raw, etl_id, con=None, fast=True):
        if raw["offset"][0].as_py() == failing_offset:
            raise RuntimeError(f"cannot parse the batch at {failing_offset}")
        return real(raw, etl_id, con, fast)

    monkeypatch.setattr(pipeline, "make_source", lambda config, topics: NoConsumer())
    monkeypatch.setattr(pipeline, "read_chunk", batches)
    monkeypatch.setattr(pipeline, "parse_batch", parse_or_fail)
    monkeypatch.setattr(state, "release_locks", lambda *a, **k: None)
    monkeypatch.setattr(pipeline.Loader, "_keep_locks", lambda self, pending: None)
    store = OutputStore(str(tmp_path))
    chunks = [Chunk("lib.server.game", 0, 0, 29), Chunk("lib.server.game", 0, 30, 59)]
    plan = Plan("e", 1, "incremental", "now", [], chunks)
    config = pipeline.LoaderConfig(topics=("lib.server.game",), return_memory=False)
    loader = pipeline.Loader({}, None, store, config)
    with pytest.raises(RuntimeError, match="cannot parse"):
        loader.land_raw(PendingRun(plan, {}, {}, PriorState(), 0, "", ""))
    failed = next(c for c in chunks if c.first <= failing_offset <= c.last)
    assert not store.exists(failed.relpath("raw_messages"))
    for table in ("buffer_meta", "log_meta", "lib_server_game"):
        assert not store.exists(failed.relpath(table))
