"""Validation of the names that become paths: topics and OUTPUT_FS."""

from __future__ import annotations

import os
import re

# Kafka's own rule for topic names, minus the two names that are path tricks.
_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
_OUTPUT_PROTOCOLS = ("s3", "gs", "gcs", "az", "abfs", "abfss", "file")


def validate_topic(name: str) -> str:
    if not _TOPIC.match(name) or name in (".", ".."):
        raise ValueError(
            f"topic name {name!r} is not allowed: use 1-249 letters, digits, '.', '_' or '-' "
            "(Kafka's rule), and not '.' or '..'"
        )
    return name


def validate_output_fs(uri: str) -> str:
    """A local path or s3:// gs:// az:// abfs:// URL, without control characters or '..'."""
    if not uri or any(ord(c) < 32 for c in uri):
        raise ValueError(
            "OUTPUT_FS is empty or holds control characters; set it to a local "
            "path or an s3://, gs:// or az:// URL"
        )
    protocol, sep, rest = uri.partition("://")
    if sep:
        if protocol not in _OUTPUT_PROTOCOLS:
            raise ValueError(
                f"OUTPUT_FS protocol {protocol!r} is not supported; use a local "
                "path, s3://, gs://, az:// or abfs://"
            )
        if ".." in rest.split("/") or not rest.strip("/"):
            raise ValueError(
                f"OUTPUT_FS {uri!r} must name a bucket (and optional prefix) without '..'"
            )
    return uri


def absolute_output_fs(uri: str, cwd: str | None = None) -> str:
    """A local OUTPUT_FS as an absolute, normalized path (against cwd); URLs as they are.

    Resolved once, where the user ran the command, so every process it starts (dagster
    dev in its state folder, the runs, the worker) writes to the same folder.
    """
    uri = uri.strip() or "./data"
    protocol, sep, rest = uri.partition("://")
    if sep and protocol != "file":
        return uri
    path = rest if sep else uri
    return os.path.normpath(os.path.join(cwd or os.getcwd(), os.path.expanduser(path)))
