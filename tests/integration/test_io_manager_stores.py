"""The io_manager on real object-store servers: SeaweedFS (S3), fake-gcs-server (GCS), Azurite.

An asset downstream of the loaded tables reads them through it (a lazy polars scan of every
file the loader wrote), and its own output is stored beside them and read back by the next
asset, all with `dg.materialize` and the store configured from the environment alone.
"""

from __future__ import annotations

import os
import uuid

import dagster as dg
import polars as pl
import pytest

from superhero_assets import config
from superhero_assets.resources import ParquetTablesIOManager
from superhero_tools.stack import emulators
from tests.support.elt_env import CLOUD_PREFIXES, EltEnv

pytestmark = pytest.mark.integration


@pytest.fixture(params=("local", *emulators.EMULATORS))
def loaded(request, stack, tmp_path, monkeypatch):
    """A loaded output on this store, and its variables in the environment (as a deployment
    sets them for Dagster)."""
    service = request.param
    if service == "local":
        output, store_env = str(tmp_path / "out"), {}
    else:
        es = request.getfixturevalue("object_stores")
        prefix = f"io-{uuid.uuid4().hex[:8]}"
        output = emulators.output_fs(service, es, prefix)
        store_env = emulators.client_env(service, es)
    for name in [n for n in os.environ if n.startswith(CLOUD_PREFIXES)]:
        monkeypatch.delenv(name)
    for name, value in store_env.items():
        monkeypatch.setenv(name, value)
    env = EltEnv.create(stack, output, store_env)
    yield env
    env.cleanup()


@dg.asset(ins={"game": dg.AssetIn("lib_server_game"), "lobby": dg.AssetIn("lib_server_lobby")})
def attacks_per_game(game: pl.LazyFrame, lobby: pl.LazyFrame) -> pl.LazyFrame:
    """Per game: its attacks and its players, two lazy scans joined."""
    attacks = game.group_by("game_token").agg(attacks=pl.len())
    players = lobby.group_by("game_token").agg(players=pl.col("user_token").n_unique())
    return attacks.join(players, on="game_token").sort("game_token")


@dg.asset
def busiest_game(attacks_per_game: pl.DataFrame) -> pl.DataFrame:
    return attacks_per_game.sort("attacks", "game_token", descending=[True, False]).head(1)


def test_an_asset_reads_the_loaded_tables_and_stores_its_own_beside_them(loaded):
    loaded.produce_matches(6)
    assert loaded.run(chunk_messages=10) is not None  # several files per partition
    store = loaded.store()
    assert len(store.list("lib_server_game", ".parquet")) > 4
    # The output as the definitions build it from the environment (secrets as dg.EnvVar).
    output = config.output({**os.environ, "OUTPUT_FS": store.root})
    resources = {"io_manager": ParquetTablesIOManager(output=output)}
    specs = [dg.AssetSpec("lib_server_game"), dg.AssetSpec("lib_server_lobby")]
    result = dg.materialize([*specs, attacks_per_game, busiest_game], resources=resources)
    assert result.success
    # Read back from the store with pyarrow, apart from the io_manager.
    rows = store.read_parquet("attacks_per_game/part-0.parquet").to_pylist()
    assert rows == [{"game_token": f"g{m}", "attacks": 3, "players": 2 + m % 2} for m in range(6)]
    assert store.read_parquet("busiest_game/part-0.parquet").to_pylist() == [rows[0]]
    (mat,) = result.asset_materializations_for_node("attacks_per_game")
    assert mat.metadata["dagster/row_count"].value == 6
    assert mat.metadata["path"].value == f"{store.root}/attacks_per_game"
    # Each asset's one file, beside the loader's tables and apart from them.
    assert [f for f in store.list_all() if f.endswith("part-0.parquet")] == [
        "attacks_per_game/part-0.parquet",
        "busiest_game/part-0.parquet",
    ]
