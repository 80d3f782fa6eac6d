"""The Parquet IO manager: Arrow tables in bounded pieces under OUTPUT_FS, loaded as a dataset."""

import dagster as dg
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from superhero_assets.resources import OutputResource, ParquetIOManager


@dg.asset
def pieces() -> list[pa.Table]:
    """Three pieces, as a bounded-memory producer would hand them over."""
    return [pa.table({"n": list(range(i * 10, i * 10 + 10))}) for i in range(3)]


@dg.asset
def total(pieces: ds.Dataset) -> pa.Table:
    return pa.table({"sum": [sum(pieces.to_table()["n"].to_pylist())]})


def test_pieces_become_files_and_load_back_as_one_dataset(tmp_path):
    result = dg.materialize(
        [pieces, total],
        resources={"io_manager": ParquetIOManager(output=OutputResource(output_fs=str(tmp_path)))},
    )
    assert result.success
    files = sorted((tmp_path / "pieces").glob("*.parquet"))
    assert len(files) == 3
    assert sum(pq.read_metadata(f).num_rows for f in files) == 30
    (written,) = (tmp_path / "total").glob("*.parquet")
    assert pq.read_table(written)["sum"].to_pylist() == [sum(range(30))]
    mats = result.asset_materializations_for_node("pieces")
    assert mats[0].metadata["dagster/row_count"].value == 30
