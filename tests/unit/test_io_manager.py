"""The io_manager on a local folder: an asset's Parquet round trip, and the loader's tables read
through it (many files in topic/partition folders) by an asset downstream of them."""

import dagster as dg
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from superhero_assets.core import contract
from superhero_assets.core.store.output_store import OutputStore
from superhero_assets.resources import OutputResource, ParquetTablesIOManager


def io_manager(root) -> ParquetTablesIOManager:
    return ParquetTablesIOManager(output=OutputResource(output_fs=str(root)))


def materialize(root, *assets, **kwargs) -> dg.ExecuteInProcessResult:
    return dg.materialize(list(assets), resources={"io_manager": io_manager(root)}, **kwargs)


@dg.asset
def pieces() -> list[pa.Table]:
    """Three pieces, as a bounded-memory producer hands them over."""
    return [pa.table({"n": list(range(i * 10, i * 10 + 10))}) for i in range(3)]


@dg.asset
def total(pieces: pl.LazyFrame) -> pl.DataFrame:
    return pieces.select(pl.col("n").sum().alias("sum")).collect()


def test_pieces_become_one_file_read_back_lazily_and_a_rerun_replaces_it(tmp_path):
    for _ in range(2):
        result = materialize(tmp_path, pieces, total)
        assert result.success
    assert [p.name for p in (tmp_path / "pieces").iterdir()] == ["part-0.parquet"]
    written = pq.ParquetFile(tmp_path / "pieces" / "part-0.parquet")
    assert (written.metadata.num_rows, written.metadata.num_row_groups) == (30, 3)
    assert written.metadata.row_group(0).column(0).compression == "ZSTD"  # the loader's options
    assert pq.read_table(tmp_path / "total" / "part-0.parquet")["sum"].to_pylist() == [435]
    (mat,) = result.asset_materializations_for_node("pieces")
    assert mat.metadata["dagster/row_count"].value == 30
    assert mat.metadata["path"].value == str(tmp_path / "pieces")


@dg.asset
def frames() -> pl.LazyFrame:
    return pl.LazyFrame({"k": ["a", "b", "a"], "v": [1, 2, 3]})


@pytest.mark.parametrize("kind", [pl.DataFrame, pa.Table, ds.Dataset])
def test_an_input_is_read_as_the_type_it_asks_for(tmp_path, kind):
    @dg.asset
    def reads(frames: kind) -> None:  # type: ignore[valid-type]
        assert isinstance(frames, kind)
        rows = frames.to_table() if kind is ds.Dataset else frames
        assert pl.DataFrame(rows).group_by("k").agg(pl.col("v").sum()).sort("k").rows() == [
            ("a", 4),
            ("b", 2),
        ]

    assert materialize(tmp_path, frames, reads).success
    assert not (tmp_path / "reads").exists()  # it returned None: nothing stored


def game_rows(offsets: range) -> pa.Table:
    n = len(offsets)
    columns = {f.name: pa.nulls(n, f.type) for f in contract.LIB_SERVER_GAME}
    columns["msg_id"] = pa.array([f"lib.server.game:0:{o}" for o in offsets])
    columns["enemy_damage"] = pa.array([10] * n, pa.uint64())
    return pa.table(columns, schema=contract.LIB_SERVER_GAME)


lib_server_game = dg.AssetSpec("lib_server_game")


@dg.asset(ins={"game": dg.AssetIn("lib_server_game")})
def damage_per_game(game: pl.LazyFrame) -> pl.DataFrame:
    """An analytics-style asset: a lazy aggregate over the loaded table."""
    return game.select(pl.len().alias("attacks"), pl.col("enemy_damage").sum()).collect()


def test_a_downstream_asset_reads_every_file_of_a_loaded_table(tmp_path):
    store = OutputStore(str(tmp_path))
    store.write_parquet("lib_server_game/empty.parquet", contract.LIB_SERVER_GAME.empty_table())
    for partition, first in [(0, 0), (0, 5), (1, 0), (3, 0)]:
        chunk = f"{first:020d}-{first + 4:020d}.parquet"
        store.write_parquet(f"lib_server_game/t.game/{partition:03d}/{chunk}", game_rows(range(5)))
    (tmp_path / "lib_server_game" / ".half-written.parquet.tmp").write_bytes(b"not parquet")
    (tmp_path / "lib_server_game" / ".hidden.parquet").write_bytes(b"not parquet")
    result = materialize(tmp_path, lib_server_game, damage_per_game)
    assert result.success
    out = pq.read_table(tmp_path / "damage_per_game" / "part-0.parquet")
    assert out.to_pylist() == [{"attacks": 20, "enemy_damage": 200}]


def test_a_table_partitioned_by_shard_is_read_whole_downstream(tmp_path):
    # With SUPERHERO_SHARDS=3 the loader's assets are partitioned by shard, and its tables
    # stay one folder: an unpartitioned asset downstream reads all of it.
    shards = dg.StaticPartitionsDefinition(["1-of-3", "2-of-3", "3-of-3"])
    sharded = dg.AssetSpec("lib_server_game", partitions_def=shards)
    store = OutputStore(str(tmp_path))
    for partition in range(3):
        chunk = f"{0:020d}-{4:020d}.parquet"
        store.write_parquet(f"lib_server_game/t.game/{partition:03d}/{chunk}", game_rows(range(5)))
    result = materialize(tmp_path, sharded, damage_per_game)
    assert result.success
    out = pq.read_table(tmp_path / "damage_per_game" / "part-0.parquet")
    assert out.to_pylist() == [{"attacks": 15, "enemy_damage": 150}]


def test_a_missing_table_is_a_clear_failure(tmp_path):
    result = materialize(tmp_path, lib_server_game, damage_per_game, raise_on_error=False)
    assert not result.success
    assert "no Parquet files under" in str(result.all_events)


@dg.asset
def pickled() -> dict:
    return {"a": 1}


@dg.asset(name="lib_server_game")
def overwrites_the_loader() -> pa.Table:
    return pa.table({"n": [1]})


@pytest.mark.parametrize(
    ("asset", "why"),
    [(pickled, "nothing is pickled"), (overwrites_the_loader, "the loader's")],
)
def test_nothing_is_pickled_and_the_loaders_tables_are_never_written(tmp_path, asset, why):
    result = materialize(tmp_path, asset, raise_on_error=False)
    assert not result.success
    assert why in str(result.all_events)
    assert not any(tmp_path.rglob("*.parquet"))


def test_a_write_that_fails_midway_leaves_the_previous_file_whole(tmp_path):
    assert materialize(tmp_path, pieces).success
    before = (tmp_path / "pieces" / "part-0.parquet").read_bytes()

    def dying_producer():
        yield pa.table({"n": [1]})
        raise RuntimeError("the producer died")

    @dg.asset(name="pieces")
    def failing():
        return dying_producer()

    assert not materialize(tmp_path, failing, raise_on_error=False).success
    assert [p.name for p in (tmp_path / "pieces").iterdir()] == ["part-0.parquet"]
    assert (tmp_path / "pieces" / "part-0.parquet").read_bytes() == before


def test_a_downstream_asset_never_reads_the_files_of_a_run_not_committed(tmp_path):
    """A pending run's chunk files are not committed (a reset drops them): they are left out."""
    from superhero_assets.core.run import manifest
    from superhero_assets.core.run.pending_run import PendingRun, PriorState
    from superhero_assets.core.run.plan import Chunk, Plan

    store = OutputStore(str(tmp_path))
    committed, in_flight = Chunk("t.game", 0, 0, 4), Chunk("t.game", 0, 5, 9)
    for chunk in (committed, in_flight):
        store.write_parquet(chunk.relpath("lib_server_game"), game_rows(range(5)))
    plan = Plan("pending", 2, "incremental", "now", [], [in_flight])
    manifest.write_pending(store, PendingRun(plan, {}, {}, PriorState(), 0, "", ""))
    result = materialize(tmp_path, lib_server_game, damage_per_game)
    assert result.success
    out = pq.read_table(tmp_path / "damage_per_game" / "part-0.parquet")
    assert out.to_pylist() == [{"attacks": 5, "enemy_damage": 50}]  # the committed file only
