"""The output store under OUTPUT_FS: durable, all-or-nothing file writes, local or object store.

Readers glob `{table}/**/*.parquet`, so a file must never be seen half-written:

- On a local disk a file is written under a hidden temporary name (not `*.parquet`), fsynced,
  renamed into place and its folder fsynced.
- On an object store (`s3://`, `gs://`, `az://` or `abfs://`) Parquet is streamed into the
  store in blocks: an S3 multipart upload, a GCS resumable upload, Azure staged blocks. The
  object appears only when the upload completes (CompleteMultipartUpload, the final chunk,
  the block-list commit); a failed write is aborted, and a killed one leaves only an
  invisible, unfinished upload. No local copy of the whole file is ever made.

Credentials and endpoints come from the output's settings (`OutputResource` in Dagster,
`OutputSettings` in the CLI: core/store/settings.py); secrets never appear in an error, a log
line or the manifest.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.core import strip_protocol

from superhero_assets.core.names import validate_output_fs
from superhero_assets.core.store.config import StoreConfigError, cloud_of
from superhero_assets.core.store.errors import explain, scrub

_UNIQUE_COLUMNS = frozenset({"value", "msg_id", "checksum"})

_SAFE_PART = re.compile(r"^[A-Za-z0-9_.=-]+$")

# Parts of a streamed upload. S3 needs at least 5 MiB per part, GCS a multiple of 256 KiB.
UPLOAD_BLOCK_BYTES = 8 * 1024 * 1024


def check_relpath(relpath: str) -> str:
    """Refuse any path that could escape the output root (.., absolute, odd characters)."""
    parts = PurePosixPath(relpath).parts
    if (
        not parts
        or relpath.startswith("/")
        or any(p in ("..", ".") or not _SAFE_PART.match(p) for p in parts)
    ):
        raise ValueError(f"refusing unsafe output path {relpath!r}")
    return relpath


def parquet_options(schema: pa.Schema, row_group_size: int | None = 128 * 1024) -> dict[str, Any]:
    """How every table is written; row_group_size=None for writers that add their own."""
    # Unique-per-row columns gain nothing from min/max statistics and cost the most to try
    # them on. No dictionaries: on these tables zstd alone makes smaller files, faster.
    plain = [f.name for f in schema if f.name not in _UNIQUE_COLUMNS]
    options = {"compression": "zstd", "use_dictionary": False, "write_statistics": plain}
    return options if row_group_size is None else {**options, "row_group_size": row_group_size}


def storage_options_from_env(
    url: str, env: dict[str, str] | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The fsspec options for url, and the secrets among them, as the output settings that
    core/environment.py reads from env (default: os.environ) give them."""
    from superhero_assets.core import environment  # its settings import this module

    return environment.storage_options_from_env(url, env)


class OutputStore:
    """Files under one root URL (a local folder, s3://, gs://, az://).

    storage_options None means: those of the environment (storage_options_from_env).
    """

    def __init__(
        self,
        root: str,
        storage_options: dict[str, Any] | None = None,
        secrets: list[str] | None = None,
        upload_block_bytes: int = UPLOAD_BLOCK_BYTES,
    ) -> None:
        self.root = validate_output_fs(root).rstrip("/") or "/"
        protocol = fsspec.core.split_protocol(self.root)[0]
        self.cloud = cloud_of(self.root)
        self.is_local = self.cloud is None
        self.upload_block_bytes = upload_block_bytes
        if storage_options is None and not self.is_local:
            storage_options, secrets = storage_options_from_env(self.root)
        self._secrets = list(secrets or [])
        if self.is_local:
            self.root = os.path.abspath(fsspec.core.strip_protocol(self.root))
        else:
            # One root, one bucket: the same names on every store, under the prefix.
            bucket = self.root.split("://", 1)[1].split("/", 1)[0]
            if not bucket:
                raise StoreConfigError(f"OUTPUT_FS {root!r} names no bucket or container")
        if self.cloud == "azure":
            # The SDK logs every request's headers at INFO; keep that out of run logs.
            for name in ("azure", "azure.core.pipeline.policies.http_logging_policy"):
                logging.getLogger(name).setLevel(logging.WARNING)
        with self.errors():
            self.fs = fsspec.filesystem(protocol or "file", **(storage_options or {}))

    def __repr__(self) -> str:  # never the options: they may hold secrets
        return f"OutputStore({self.root!r})"

    @contextlib.contextmanager
    def errors(self) -> Iterator[None]:
        """Turn a configuration error of the store into one that names the variable to fix."""
        try:
            yield
        except StoreConfigError:
            raise
        except Exception as exc:
            message = explain(exc, self.cloud, self.root, self._secrets)
            if message is None:
                raise
            detail = scrub(f"{type(exc).__name__}: {exc}", self._secrets).splitlines()[0][:300]
            raise StoreConfigError(f"{message} ({detail})") from None

    def check_writable(self) -> None:
        """A real put, get and delete under _manifest/, before a run reads or commits anything."""
        relpath = f"_manifest/.probe-{uuid.uuid4().hex}"
        with self.errors():
            self.write_bytes(relpath, b"probe")
            if self.fs.cat_file(self.path(relpath)) != b"probe":
                raise StoreConfigError(f"OUTPUT_FS {self.root}: a test object read back wrong")
            self.fs.rm_file(self.path(relpath))

    def path(self, relpath: str) -> str:
        return f"{self.root}/{check_relpath(relpath)}"

    def write_bytes(self, relpath: str, data: bytes) -> None:
        target = self.path(relpath)
        if not self.is_local and len(data) <= self.upload_block_bytes:
            self.fs.pipe_file(target, data)  # one PUT: atomic
            return
        # Big objects go up in parts (multipart / resumable / staged blocks), whole or not at all.
        with self.open_whole(relpath) as fh:
            fh.write(data)

    @contextlib.contextmanager
    def open_whole(self, relpath: str) -> Iterator[Any]:
        """A file to write that appears whole when the block ends, or not at all if it raises:
        renamed into place on a local disk, a block-wise upload completed only on success on
        an object store."""
        opener = self._local_atomic if self.is_local else self.remote_streaming
        with opener(self.path(relpath)) as fh:
            yield fh

    @contextlib.contextmanager
    def _local_atomic(self, target: str) -> Iterator[io.BufferedWriter]:
        # A disk that fills up or turns read-only mid-run fails naming OUTPUT_FS too.
        with self.errors():
            folder = os.path.dirname(target)
            os.makedirs(folder, exist_ok=True)
            tmp = os.path.join(folder, f".{os.path.basename(target)}.{uuid.uuid4().hex}.tmp")
            try:
                with open(tmp, "wb") as fh:
                    yield fh
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
            dir_fd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    @contextlib.contextmanager
    def remote_streaming(self, target: str) -> Iterator[Any]:
        """A block-wise upload that becomes visible only on success, and is aborted on error."""
        fh = self.fs.open(target, "wb", block_size=self.upload_block_bytes)
        try:
            yield fh
        except BaseException:
            with contextlib.suppress(Exception):
                fh.discard()  # abort the multipart / resumable upload: nothing appears
                fh.closed = True  # and never complete it later (on garbage collection)
            raise
        fh.close()  # completes the upload: the object appears whole

    def write_parquet(self, relpath: str, table: pa.Table) -> int:
        """Write one Arrow table as one Parquet file, streamed; returns the bytes written."""
        with self.open_whole(relpath) as fh:
            counted = _CountingWriter(fh)
            pq.write_table(table, counted, **parquet_options(table.schema))
        return counted.written

    def write_json(self, relpath: str, obj: Any) -> None:
        self.write_bytes(relpath, json.dumps(obj, indent=1, sort_keys=True).encode())

    def read_json(self, relpath: str) -> Any | None:
        self._fresh(relpath)
        try:  # no read-ahead buffer: one GET on GCS and Azure (s3fs asks the size first)
            return json.loads(self.fs.cat_file(self.path(relpath)))
        except FileNotFoundError:
            return None

    def read_parquet(self, relpath: str) -> pa.Table:
        with self.fs.open(self.path(relpath), "rb") as fh:
            return pq.read_table(fh)

    def exists(self, relpath: str) -> bool:
        self._fresh(relpath)
        return self.fs.exists(self.path(relpath))

    def delete(self, relpath: str) -> None:
        target = self.path(relpath)
        self._fresh(relpath)
        if self.fs.exists(target):
            self.fs.rm_file(target)

    def list_all(self) -> list[str]:
        """Relative paths of every file under the root (tables and manifest), sorted."""
        return self._find(self.root, "")

    def list(self, prefix: str, suffix: str = "") -> list[str]:
        """Relative paths of the files below prefix that end with suffix, sorted."""
        return self._find(self.path(prefix), suffix)

    def _find(self, base: str, suffix: str) -> list[str]:
        if not self.is_local:
            self.fs.invalidate_cache()  # other processes write here too
        if self.is_local and not self.fs.exists(base):
            return []
        try:
            listed = self.fs.find(base)
        except FileNotFoundError:
            return []
        # find() gives paths as the file system names them: without a protocol.
        root = strip_protocol(self.root).rstrip("/")
        found = []
        for full in listed:
            rel = full[len(root) + 1 :]
            if rel.endswith(suffix) and not PurePosixPath(rel).name.startswith("."):
                found.append(rel)
        return sorted(found)

    def pyarrow_filesystem(self):
        """For pyarrow.dataset: None on a local disk, else this store's fsspec filesystem."""
        if self.is_local:
            return None
        from pyarrow.fs import FSSpecHandler, PyFileSystem

        return PyFileSystem(FSSpecHandler(self.fs))

    def _fresh(self, relpath: str, recursive: bool = False) -> None:
        """Forget cached listings: other processes (Dagster steps, a rerun) write here too."""
        if not self.is_local:
            self.fs.invalidate_cache(self.path(relpath) if not recursive else None)


class _CountingWriter(io.RawIOBase):
    """Passes writes through to fh and counts the bytes (pyarrow's file-like output)."""

    def __init__(self, fh: Any) -> None:
        self._fh = fh
        self.written = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        n = self._fh.write(data)
        n = len(data) if n is None else n
        self.written += n
        return n

    def flush(self) -> None:
        pass  # the upload flushes its own blocks; an early flush would cut a short S3 part

    def close(self) -> None:
        pass  # the caller completes (or aborts) the upload
