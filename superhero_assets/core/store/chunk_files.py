"""One chunk's files, built in memory a row group per batch, each written whole on close.

Every file names the plan that wrote it (its footer's `etl_id`), and the raw file is written
last: a chunk whose raw file and every other file carry the plan's etl_id is whole, so a
redone plan takes what they hold from their footers instead of reading and parsing the chunk
again.
"""

from __future__ import annotations

import gc
import io
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from superhero_assets.core import contract, faults
from superhero_assets.core.run.plan import Chunk
from superhero_assets.core.store.output_store import OutputStore, parquet_options

# The footer key naming the plan (etl_id) that wrote a chunk's file.
LANDED_BY = "superhero.etl_id"


@dataclass(frozen=True)
class TableStats:
    """What a run wrote to one table: rows, bytes and files, and the seconds spent encoding
    and writing them (none for files an earlier attempt of the same plan wrote)."""

    rows: int = 0
    bytes: int = 0
    files: int = 0
    seconds: float = 0.0

    def __add__(self, other: TableStats) -> TableStats:
        return TableStats(
            self.rows + other.rows,
            self.bytes + other.bytes,
            self.files + other.files,
            self.seconds + other.seconds,
        )


class ChunkFiles:
    """One chunk's files, built in memory a row group per batch; each appears whole on close.

    Only the compressed Parquet is held, so memory follows the batch, not the chunk.
    Different tables may be added from different threads; each table from one at a time.
    etl_id is the plan's: every file's footer records it (see landed()).
    """

    def __init__(self, store: OutputStore, chunk: Chunk, etl_id: str = "") -> None:
        self.store, self.chunk = store, chunk
        self._landed_by = {LANDED_BY: etl_id}
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
            schema = table.schema.with_metadata(self._landed_by)
            self._open[name] = (
                buf,
                pq.ParquetWriter(buf, schema, **parquet_options(schema, row_group_size=None)),
            )
        self._open[name][1].write_table(table)
        self._rows[name] = self._rows.get(name, 0) + table.num_rows
        self._spent(name, started)

    def _spent(self, name: str, started: float) -> None:
        self._seconds[name] = self._seconds.get(name, 0.0) + time.perf_counter() - started

    def add_all(self, tables: dict[str, pa.Table]) -> None:
        for name, table in tables.items():
            self.add(name, table)

    def close(self, names: Iterable[str]) -> dict[str, TableStats]:
        """Write the files of these tables; the stats of those written (one file each).

        The raw file goes last, once every other file is durable: a retry skips a chunk only
        when its raw file exists and every file names this plan, so a chunk is landed whole
        or not at all. On an object store, where each file is a request or more, the others
        go at once.
        """
        names = list(names)
        first = [n for n in names if n != "raw_messages"]
        closed = dict(zip(first, for_each(self.store, self._close_one, first), strict=True))
        if "raw_messages" in names:
            faults.maybe_die("before_raw")
            closed["raw_messages"] = self._close_one("raw_messages")
        return {name: closed[name] for name in names if closed[name] is not None}

    def _close_one(self, name: str) -> TableStats | None:
        started = time.perf_counter()
        path = self.chunk.relpath(name)
        if name not in self._open:
            if name == "raw_messages":  # an empty chunk still records that it was read
                empty = contract.RAW_MESSAGES.empty_table().replace_schema_metadata(self._landed_by)
                size = self.store.write_parquet(path, empty)
                return TableStats(0, size, 1, time.perf_counter() - started)
            self.store.delete(path)  # a replay must not leave an older file behind
            return None
        buf, writer = self._open.pop(name)
        writer.close()
        data = buf.getvalue()
        self.store.write_bytes(path, data)
        self._spent(name, started)
        return TableStats(self._rows[name], len(data), 1, round(self._seconds[name], 4))


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


def landed(
    store: OutputStore, chunks: list[Chunk], etl_id: str
) -> list[dict[str, TableStats] | None]:
    """For each chunk that plan etl_id landed already (an attempt that died), what its files
    hold, from their footers (nothing is parsed again); None for the others.

    A chunk counts only when its raw file and every other file it has name this plan. A file
    another plan wrote (the run a replay supersedes, or one that lost its lock) or one
    written before files named their plan does not count: the chunk is read again. Asked
    for every chunk before reading any: the topics' locks keep anyone else from landing
    them meanwhile.
    """

    def stats(chunk: Chunk) -> dict[str, TableStats] | None:
        raw = chunk.relpath("raw_messages")
        if not store.exists(raw):
            return None
        meta, size = _footer(store, raw)
        if (meta.metadata or {}).get(LANDED_BY.encode()) != etl_id.encode():
            return None
        found = {"raw_messages": TableStats(meta.num_rows, size, 1)}
        for table in contract.CHUNKED_TABLES:
            if store.exists(path := chunk.relpath(table)):
                meta, size = _footer(store, path)
                if (meta.metadata or {}).get(LANDED_BY.encode()) != etl_id.encode():
                    return None
                found[table] = TableStats(meta.num_rows, size, 1)
        return found

    return for_each(store, stats, chunks)


def _footer(store: OutputStore, relpath: str) -> tuple[pq.FileMetaData, int]:
    """A Parquet file's footer and its size in bytes: a read of its end, not its data."""
    with store.fs.open(store.path(relpath), "rb") as fh:
        size = fh.seek(0, io.SEEK_END)
        fh.seek(0)
        return pq.read_metadata(fh), size


@contextmanager
def gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
