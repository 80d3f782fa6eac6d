"""One chunk's files, built in memory a row group per batch, each written whole on close."""

from __future__ import annotations

import gc
import io
from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow as pa
import pyarrow.parquet as pq

from superhero_assets.core import contract
from superhero_assets.core.plan import Chunk
from superhero_assets.core.store import OutputStore, parquet_options


class ChunkFiles:
    """One chunk's files, built in memory a row group per batch; each appears whole on close.

    Only the compressed Parquet is held, so memory follows the batch, not the chunk.
    Different tables may be added from different threads; each table from one at a time.
    """

    def __init__(self, store: OutputStore, chunk: Chunk) -> None:
        self.store, self.chunk = store, chunk
        self._open: dict[str, tuple[io.BytesIO, pq.ParquetWriter]] = {}
        self._rows: dict[str, int] = {}

    def add(self, name: str, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        if name not in self._open:
            buf = io.BytesIO()
            self._open[name] = (
                buf,
                pq.ParquetWriter(
                    buf, table.schema, **parquet_options(table.schema, row_group_size=None)
                ),
            )
        self._open[name][1].write_table(table)
        self._rows[name] = self._rows.get(name, 0) + table.num_rows

    def add_all(self, tables: dict[str, pa.Table]) -> None:
        for name, table in tables.items():
            self.add(name, table)

    def close(self, names) -> dict[str, tuple[int, int]]:
        """Write the files of these tables; {table: (rows, bytes)} of those written."""
        written = {}
        for name in names:
            path = self.chunk.relpath(name)
            if name not in self._open:
                if name == "raw_messages":  # an empty chunk still records that it was read
                    empty = contract.RAW_MESSAGES.empty_table()
                    written[name] = (0, self.store.write_parquet(path, empty))
                else:
                    self.store.delete(path)  # a replay must not leave an older file behind
                continue
            buf, writer = self._open.pop(name)
            writer.close()
            data = buf.getvalue()
            self.store.write_bytes(path, data)
            written[name] = (self._rows[name], len(data))
        return written


@contextmanager
def gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
