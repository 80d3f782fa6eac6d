"""One chunk's files, built in memory a row group per batch, each written whole on close."""

from __future__ import annotations

import gc
import io
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from superhero_assets.core import contract
from superhero_assets.core.run.plan import Chunk
from superhero_assets.core.store.output_store import OutputStore, parquet_options


class ChunkFiles:
    """One chunk's files, built in memory a row group per batch; each appears whole on close.

    Only the compressed Parquet is held, so memory follows the batch, not the chunk.
    Different tables may be added from different threads; each table from one at a time.
    """

    def __init__(self, store: OutputStore, chunk: Chunk) -> None:
        self.store, self.chunk = store, chunk
        self._open: dict[str, tuple[io.BytesIO, pq.ParquetWriter]] = {}
        self._rows: dict[str, int] = {}
        # Time spent encoding and writing each table: the part of a run that is its own.
        self._seconds: dict[str, float] = {}

    def add(self, name: str, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        started = time.perf_counter()
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
        self._spent(name, started)

    def _spent(self, name: str, started: float) -> None:
        self._seconds[name] = self._seconds.get(name, 0.0) + time.perf_counter() - started

    def add_all(self, tables: dict[str, pa.Table]) -> None:
        for name, table in tables.items():
            self.add(name, table)

    def close(self, names: Iterable[str]) -> dict[str, tuple[int, int, float]]:
        """Write the files of these tables; {table: (rows, bytes, seconds)} of those written.

        On an object store, where each file is a request or more, they go at once: one
        chunk's files are independent (a retry skips a chunk only once its raw file exists,
        and rewrites every other file of it).
        """
        names = list(names)
        closed = for_each(self.store, self._close_one, names)
        return {name: c for name, c in zip(names, closed, strict=True) if c is not None}

    def _close_one(self, name: str) -> tuple[int, int, float] | None:
        started = time.perf_counter()
        path = self.chunk.relpath(name)
        if name not in self._open:
            if name == "raw_messages":  # an empty chunk still records that it was read
                size = self.store.write_parquet(path, contract.RAW_MESSAGES.empty_table())
                return 0, size, time.perf_counter() - started
            self.store.delete(path)  # a replay must not leave an older file behind
            return None
        buf, writer = self._open.pop(name)
        writer.close()
        data = buf.getvalue()
        self.store.write_bytes(path, data)
        self._spent(name, started)
        return self._rows[name], len(data), round(self._seconds[name], 4)


_T = TypeVar("_T")
_R = TypeVar("_R")


def for_each(store: OutputStore, fn: Callable[[_T], _R], items: list[_T]) -> list[_R]:
    """fn over items, in order: one at a time on a local disk, at once on an object store.

    On an object store each call is a request or more, each waiting mostly on the server.
    """
    if store.is_local or len(items) < 2:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(min(8, len(items)), thread_name_prefix="superhero-store") as pool:
        return list(pool.map(fn, items))


def landed(store: OutputStore, chunks: list[Chunk]) -> list[bool]:
    """Whether each chunk's raw file exists (landed by an attempt that died).

    Asked for every chunk before reading any: the topics' locks keep anyone else from
    landing them meanwhile.
    """
    return for_each(store, lambda chunk: store.exists(chunk.relpath("raw_messages")), chunks)


@contextmanager
def gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
