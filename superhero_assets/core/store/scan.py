"""Lazy polars scans of the output's Parquet, on a local disk or an object store.

A scan reads only the columns, row groups and rows its query needs; collected with
engine="streaming", its memory follows a batch, not the table. polars reads object stores
with its own client (Rust's object_store), not fsspec: the store's fsspec options
(core/store/config.py) are translated to its keys here, so one configuration serves both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from superhero_assets.core.store.config import cloud_of
from superhero_assets.core.store.output_store import OutputStore


def scan(store: OutputStore, relpaths: Sequence[str]) -> pl.LazyFrame:
    """These files of the store (relative paths, at least one) as one lazy frame."""
    return scan_urls([store.path(p) for p in relpaths], store.fs.storage_options)


def scan_urls(urls: Sequence[str], fsspec_options: Mapping[str, Any]) -> pl.LazyFrame:
    """Parquet files by URL (or local path), all on one store with these fsspec options.

    The names are taken as they are (no glob, no hive columns): the folders under a table
    are topic/partition, and a `key=value` reading would clash with those columns."""
    if not urls:
        raise ValueError("a scan needs at least one file")
    return pl.scan_parquet(
        list(urls),
        storage_options=polars_options(urls[0], fsspec_options),
        hive_partitioning=False,
        glob=False,
    )


def polars_options(url: str, options: Mapping[str, Any]) -> dict[str, str] | None:
    """polars' storage_options for a URL of the store these fsspec options configure."""
    cloud = cloud_of(url)
    if cloud is None:
        return None
    return {"s3": _s3, "gcs": _gcs, "azure": _azure}[cloud](options)


def _http(endpoint: str | None) -> dict[str, str]:
    """object_store refuses plain http unless told: a local emulator speaks nothing else."""
    return {"allow_http": "true"} if endpoint and endpoint.startswith("http://") else {}


def _s3(options: Mapping[str, Any]) -> dict[str, str]:
    client = options.get("client_kwargs") or {}
    keys = {"key": "aws_access_key_id", "secret": "aws_secret_access_key"}
    out = {theirs: options[ours] for ours, theirs in keys.items() if options.get(ours)}
    if options.get("token"):
        out["aws_session_token"] = options["token"]
    if client.get("region_name"):
        out["aws_region"] = client["region_name"]
    endpoint = client.get("endpoint_url")
    if endpoint:
        out["aws_endpoint_url"] = endpoint
    return {**out, **_http(endpoint)}


def _gcs(options: Mapping[str, Any]) -> dict[str, str]:
    token, endpoint = options.get("token"), options.get("endpoint_url")
    out: dict[str, str] = {}
    if token == "anon":  # an emulator: unsigned requests
        out["google_skip_signature"] = "true"
    elif isinstance(token, str) and token != "google_default":
        out["google_application_credentials"] = token  # a service-account or user key file
    # google_default: application default credentials, which polars finds by itself.
    if endpoint:
        out["google_base_url"] = endpoint.rstrip("/")
    return {**out, **_http(endpoint)}


def _azure(options: Mapping[str, Any]) -> dict[str, str]:
    if options.get("connection_string"):
        return _azure_connection_string(options["connection_string"])
    names = {
        "account_name": "azure_storage_account_name",
        "account_key": "azure_storage_account_key",
        "tenant_id": "azure_tenant_id",
        "client_id": "azure_client_id",
        "client_secret": "azure_client_secret",
    }
    out = {theirs: options[ours] for ours, theirs in names.items() if options.get(ours)}
    if options.get("account_host"):  # adlfs's https://{account_host}
        out["azure_endpoint"] = f"https://{options['account_host']}"
    return out


def _azure_connection_string(text: str) -> dict[str, str]:
    parts = dict(p.split("=", 1) for p in text.split(";") if "=" in p)
    if parts.get("UseDevelopmentStorage", "").lower() == "true":
        return {"azure_storage_use_emulator": "true"}
    out = {"azure_storage_account_name": parts.get("AccountName", "")}
    if parts.get("AccountKey"):
        out["azure_storage_account_key"] = parts["AccountKey"]
    if parts.get("SharedAccessSignature"):
        out["azure_storage_sas_key"] = parts["SharedAccessSignature"]
    endpoint = parts.get("BlobEndpoint")
    if not endpoint and parts.get("EndpointSuffix"):
        scheme = parts.get("DefaultEndpointsProtocol", "https")
        endpoint = f"{scheme}://{out['azure_storage_account_name']}.blob.{parts['EndpointSuffix']}"
    if endpoint:
        out["azure_endpoint"] = endpoint.rstrip("/")
    return {**out, **_http(endpoint)}
