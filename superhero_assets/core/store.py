"""The output store under OUTPUT_FS: durable, all-or-nothing file writes, local or object store.

Readers glob `{table}/**/*.parquet`, so a file must never be seen half-written. On a local
disk a file is written under a hidden temporary name (not `*.parquet`), fsynced, renamed
into place and its folder fsynced. On an object store a single PUT is already atomic.
"""

from __future__ import annotations

import io
import json
import os
import re
import uuid
from pathlib import PurePosixPath
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

_UNIQUE_COLUMNS = frozenset({"value", "msg_id", "checksum"})
_SAFE_PART = re.compile(r"^[A-Za-z0-9_.=-]+$")


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


def parquet_options(schema: pa.Schema) -> dict[str, Any]:
    """How every table is written (also by writers that add one row group at a time)."""
    # Unique-per-row columns gain nothing from a dictionary or min/max statistics and cost
    # the most to try them on.
    plain = [f.name for f in schema if f.name not in _UNIQUE_COLUMNS]
    return {
        "compression": "zstd",
        "row_group_size": 128 * 1024,
        "use_dictionary": plain,
        "write_statistics": plain,
    }


class OutputStore:
    """Files under one root URL (a local folder, s3://, gs://, az://)."""

    def __init__(self, root: str, storage_options: dict[str, Any] | None = None) -> None:
        self.root = root.rstrip("/") or "/"
        protocol = fsspec.core.split_protocol(self.root)[0]
        self.is_local = protocol in (None, "file", "local")
        if self.is_local:
            self.root = os.path.abspath(fsspec.core.strip_protocol(self.root))
        self.fs = fsspec.filesystem(protocol or "file", **(storage_options or {}))

    def path(self, relpath: str) -> str:
        return f"{self.root}/{check_relpath(relpath)}"

    def write_bytes(self, relpath: str, data: bytes) -> None:
        target = self.path(relpath)
        if not self.is_local:
            self.fs.pipe_file(target, data)
            return
        folder = os.path.dirname(target)
        os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, f".{os.path.basename(target)}.{uuid.uuid4().hex}.tmp")
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
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

    def write_parquet(self, relpath: str, table: pa.Table) -> int:
        """Write one Arrow table as one Parquet file; returns the bytes written."""
        buf = io.BytesIO()
        pq.write_table(table, buf, **parquet_options(table.schema))
        data = buf.getvalue()
        self.write_bytes(relpath, data)
        return len(data)

    def write_json(self, relpath: str, obj: Any) -> None:
        self.write_bytes(relpath, json.dumps(obj, indent=1, sort_keys=True).encode())

    def read_json(self, relpath: str) -> Any | None:
        try:
            with self.fs.open(self.path(relpath), "rb") as fh:
                return json.loads(fh.read())
        except FileNotFoundError:
            return None

    def read_parquet(self, relpath: str) -> pa.Table:
        with self.fs.open(self.path(relpath), "rb") as fh:
            return pq.read_table(fh)

    def exists(self, relpath: str) -> bool:
        return self.fs.exists(self.path(relpath))

    def delete(self, relpath: str) -> None:
        target = self.path(relpath)
        if self.fs.exists(target):
            self.fs.rm_file(target)

    def list(self, prefix: str, suffix: str = "") -> list[str]:
        """Relative paths of the files below prefix that end with suffix, sorted."""
        base = self.path(prefix)
        if not self.fs.exists(base):
            return []
        root = self.fs._strip_protocol(self.root).rstrip("/")
        found = []
        for full in self.fs.find(base):
            rel = self.fs._strip_protocol(full)[len(root) + 1 :]
            if rel.endswith(suffix) and not PurePosixPath(rel).name.startswith("."):
                found.append(rel)
        return sorted(found)
