"""The output store under OUTPUT_FS: durable, all-or-nothing file writes, local or object store.

Readers glob `{table}/**/*.parquet`, so a file must never be seen half-written:

- On a local disk a file is written under a hidden temporary name (not `*.parquet`), fsynced,
  renamed into place and its folder fsynced.
- On an object store (`s3://`, `gs://`, `az://` or `abfs://`) Parquet is streamed into the
  store in blocks: an S3 multipart upload, a GCS resumable upload, Azure staged blocks. The
  object appears only when the upload completes (CompleteMultipartUpload, the final chunk,
  the block-list commit); a failed write is aborted, and a killed one leaves only an
  invisible, unfinished upload. No local copy of the whole file is ever made.

Credentials and endpoints come from the environment (`storage_options_from_env`); secrets
never appear in an error, a log line or the manifest.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import uuid
from collections.abc import Iterator, Mapping
from pathlib import PurePosixPath
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from superhero_assets.core.names import validate_output_fs

_UNIQUE_COLUMNS = frozenset({"value", "msg_id", "checksum"})

_SAFE_PART = re.compile(r"^[A-Za-z0-9_.=-]+$")

# Parts of a streamed upload. S3 needs at least 5 MiB per part, GCS a multiple of 256 KiB.
UPLOAD_BLOCK_BYTES = 8 * 1024 * 1024

CLOUDS = {
    "s3": "s3",
    "s3a": "s3",
    "gs": "gcs",
    "gcs": "gcs",
    "az": "azure",
    "abfs": "azure",
    "abfss": "azure",
}


class StoreConfigError(ValueError):
    """The output cannot be used as configured; the message names the variable to fix."""


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
    # them on. No dictionaries: on these tables zstd alone makes smaller files, 20% faster.
    plain = [f.name for f in schema if f.name not in _UNIQUE_COLUMNS]
    options = {"compression": "zstd", "use_dictionary": False, "write_statistics": plain}
    return options if row_group_size is None else {**options, "row_group_size": row_group_size}


def cloud_of(url: str) -> str | None:
    """'s3', 'gcs', 'azure', or None for a local path."""
    protocol = fsspec.core.split_protocol(url)[0]
    if protocol in (None, "file", "local"):
        return None
    if protocol not in CLOUDS:
        raise StoreConfigError(
            f"OUTPUT_FS {url!r}: unsupported scheme {protocol!r}; use a local path, s3://, "
            "gs://, az:// or abfs://"
        )
    return CLOUDS[protocol]


def _get(env: Mapping[str, str], *names: str) -> str:
    for name in names:
        value = (env.get(name) or "").strip()
        if value:
            return value
    return ""


def storage_options_from_env(
    url: str, env: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The fsspec options for url from the original's variables, and the secrets among them.

    s3://   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (AWS_SESSION_TOKEN), AWS_REGION,
            endpoint AWS_ENDPOINT_URL (SeaweedFS, MinIO, any S3-compatible store). Without a
            key, boto's own chain (AWS_PROFILE, ~/.aws) applies.
    gs://   GCP_PROJECT_ID, a service-account file in GOOGLE_APPLICATION_CREDENTIALS or else
            application default credentials; endpoint STORAGE_EMULATOR_HOST.
    az://   AZURE_ACCOUNT_NAME with AZURE_ACCOUNT_KEY, or a service principal
            AZURE_TENANT_ID / AZURE_CLIENT_ID / AZURE_CLIENT_SECRET, or
            AZURE_STORAGE_CONNECTION_STRING; endpoint AZURE_STORAGE_ENDPOINT (Azurite).
    """
    env = os.environ if env is None else env
    cloud = cloud_of(url)
    if cloud is None:
        return {}, []
    if cloud == "s3":
        return _s3_options(env)
    if cloud == "gcs":
        return _gcs_options(env)
    return _azure_options(env)


def _s3_options(env: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    key = _get(env, "AWS_ACCESS_KEY_ID")
    secret = _get(env, "AWS_SECRET_ACCESS_KEY")
    if bool(key) != bool(secret):
        missing = "AWS_SECRET_ACCESS_KEY" if key else "AWS_ACCESS_KEY_ID"
        raise StoreConfigError(f"{missing} is not set, but its partner is; set both or neither.")
    options: dict[str, Any] = {
        "config_kwargs": {
            "connect_timeout": 10,
            "read_timeout": 60,
            "retries": {"max_attempts": 3, "mode": "standard"},
        },
        "client_kwargs": {},
    }
    secrets = []
    if key:
        options.update(key=key, secret=secret)
        secrets.append(secret)
        token = _get(env, "AWS_SESSION_TOKEN")
        if token:
            options["token"] = token
            secrets.append(token)
    endpoint = _get(env, "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
    region = _get(env, "AWS_REGION", "AWS_DEFAULT_REGION")
    if endpoint:
        options["client_kwargs"]["endpoint_url"] = endpoint
        region = region or "us-east-1"
    if region:
        options["client_kwargs"]["region_name"] = region
    return options, secrets


def _gcs_options(env: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    options: dict[str, Any] = {}
    project = _get(env, "GCP_PROJECT_ID", "GOOGLE_CLOUD_PROJECT")
    if project:
        options["project"] = project
    endpoint = _get(env, "STORAGE_EMULATOR_HOST")
    key_file = _get(env, "GOOGLE_APPLICATION_CREDENTIALS")
    if endpoint:
        options["endpoint_url"] = endpoint
    if key_file:
        if not os.path.isfile(key_file):
            raise StoreConfigError(
                "GOOGLE_APPLICATION_CREDENTIALS names a service-account file that does not "
                f"exist: {key_file}"
            )
        _check_google_key_file(key_file)
        options["token"] = key_file
    elif endpoint:
        options["token"] = "anon"  # emulators take no credentials
    else:
        # Application default credentials (gcloud auth application-default login, or the
        # workload's identity). Never gcsfs's "cloud" method, which asks the metadata server.
        options["token"] = "google_default"
    return options, []


def _check_google_key_file(path: str) -> None:
    """Refuse a key file gcsfs would misread, before any request (no secret in the message)."""
    try:
        with open(path) as fh:
            info = json.load(fh)
    except (OSError, ValueError):
        info = None
    needed = {
        "service_account": ("client_email", "private_key", "token_uri"),
        "authorized_user": ("client_id", "client_secret", "refresh_token"),
    }
    kind = info.get("type") if isinstance(info, dict) else None
    missing = [k for k in needed.get(kind, ()) if not info.get(k)] if kind in needed else None
    if missing is None or missing:
        what = f"lacks {', '.join(missing)}" if missing else "is not a Google key file"
        raise StoreConfigError(
            f"GOOGLE_APPLICATION_CREDENTIALS {path} {what}; download a service-account key "
            "(JSON) for the loader's service account (see cloud/gcp)."
        )


def _azure_options(env: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    connection_string = _get(env, "AZURE_STORAGE_CONNECTION_STRING")
    if connection_string:
        return {"connection_string": connection_string}, [connection_string]
    account = _get(env, "AZURE_ACCOUNT_NAME", "AZURE_STORAGE_ACCOUNT_NAME")
    key = _get(env, "AZURE_ACCOUNT_KEY", "AZURE_STORAGE_ACCOUNT_KEY")
    tenant, client, client_secret = (
        _get(env, "AZURE_TENANT_ID"),
        _get(env, "AZURE_CLIENT_ID"),
        _get(env, "AZURE_CLIENT_SECRET"),
    )
    endpoint = _get(env, "AZURE_STORAGE_ENDPOINT").rstrip("/")
    if not account:
        raise StoreConfigError(
            "AZURE_ACCOUNT_NAME is not set: name the storage account that holds the container "
            "(or set AZURE_STORAGE_CONNECTION_STRING)."
        )
    if key:
        if endpoint:
            scheme = endpoint.split("://", 1)[0]
            cs = (
                f"DefaultEndpointsProtocol={scheme};AccountName={account};AccountKey={key};"
                f"BlobEndpoint={endpoint};"
            )
            return {"connection_string": cs}, [key, cs]
        return {"account_name": account, "account_key": key}, [key]
    sp = {
        "AZURE_TENANT_ID": tenant,
        "AZURE_CLIENT_ID": client,
        "AZURE_CLIENT_SECRET": client_secret,
    }
    if any(sp.values()):
        missing = [name for name, value in sp.items() if not value]
        if missing:
            raise StoreConfigError(
                f"{', '.join(missing)} not set: a service principal needs AZURE_TENANT_ID, "
                "AZURE_CLIENT_ID and AZURE_CLIENT_SECRET."
            )
        options: dict[str, Any] = {
            "account_name": account,
            "tenant_id": tenant,
            "client_id": client,
            "client_secret": client_secret,
        }
        if endpoint:
            options["account_host"] = endpoint.split("://", 1)[-1].split("/", 1)[0]
        return options, [client_secret]
    raise StoreConfigError(
        "no Azure credentials: set AZURE_ACCOUNT_KEY, or the service principal's "
        "AZURE_TENANT_ID / AZURE_CLIENT_ID / AZURE_CLIENT_SECRET."
    )


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return re.sub(r"(AccountKey|SharedAccessSignature|sig)=[^;&\s]+", r"\1=***", text)


def explain(exc: BaseException, cloud: str | None, root: str, secrets: list[str]) -> str | None:
    """A message naming the variable to fix, for the errors a wrong configuration causes."""
    chain, seen = [], exc
    while seen is not None and len(chain) < 6:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    names = {type(e).__name__ for e in chain}
    codes: set[str] = set()
    status: set[int] = set()
    for e in chain:
        response = getattr(e, "response", None)
        if isinstance(response, dict):
            codes.add(str(response.get("Error", {}).get("Code", "")))
        code = getattr(e, "error_code", None) or getattr(e, "code", None)
        if isinstance(code, str):
            codes.add(code)
        elif isinstance(code, int):
            status.add(code)
        sc = getattr(e, "status_code", None)
        if isinstance(sc, int):
            status.add(sc)
    text = " ".join(str(e) for e in chain)
    bucket = root.split("://", 1)[-1].split("/", 1)[0]
    missing_bucket = (
        f"OUTPUT_FS {root}: the bucket or container {bucket!r} does not exist (or is not "
        "visible to these credentials). Create it (see cloud/ for Terraform) or fix OUTPUT_FS."
    )
    if cloud == "s3":
        if codes & {"InvalidAccessKeyId", "InvalidClientTokenId"}:
            return "AWS_ACCESS_KEY_ID is not a key the S3 endpoint knows; fix AWS_ACCESS_KEY_ID."
        if codes & {"SignatureDoesNotMatch"}:
            return (
                "AWS_SECRET_ACCESS_KEY does not match AWS_ACCESS_KEY_ID (the request "
                "signature was refused); fix AWS_SECRET_ACCESS_KEY."
            )
        if "NoSuchBucket" in codes or "NoSuchBucket" in names:
            return missing_bucket
        if codes & {"AccessDenied", "AllAccessDisabled", "403"}:
            return (
                f"access to {root} was denied: the identity in AWS_ACCESS_KEY_ID needs "
                "s3:ListBucket, s3:GetObject, s3:PutObject and s3:DeleteObject on it."
            )
        if "NoCredentialsError" in names:
            return "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."
        if "EndpointConnectionError" in names:
            return "the S3 endpoint does not answer; check AWS_ENDPOINT_URL (and AWS_REGION)."
    if cloud == "gcs":
        if names & {"DefaultCredentialsError", "RefreshError", "TransportError"}:
            return (
                "no usable Google credentials: set GOOGLE_APPLICATION_CREDENTIALS to a "
                "service-account key file (and GCP_PROJECT_ID), or run `gcloud auth "
                "application-default login`."
            )
        if status & {401} or "401" in text:
            return "GOOGLE_APPLICATION_CREDENTIALS was refused (401); fix the key file."
        if status & {403}:
            return (
                f"access to {root} was denied: the service account in "
                "GOOGLE_APPLICATION_CREDENTIALS needs roles/storage.objectAdmin on the bucket."
            )
        if isinstance(exc, FileNotFoundError) and f"/b/{bucket}/" in text + "/":
            return missing_bucket
    if cloud == "azure":
        if "ContainerNotFound" in codes or "ContainerNotFound" in text:
            return missing_bucket
        if (
            "ClientAuthenticationError" in names
            or "AuthenticationFailed" in codes
            or "failed to authenticate" in text
        ):
            return (
                "the Azure storage account refused the credentials; fix AZURE_ACCOUNT_KEY "
                "(or AZURE_CLIENT_SECRET for a service principal) for AZURE_ACCOUNT_NAME."
            )
        if "AuthorizationPermissionMismatch" in codes or status & {403}:
            return (
                f"access to {root} was denied: the identity needs the 'Storage Blob Data "
                "Contributor' role on the container."
            )
        if isinstance(exc, FileNotFoundError) and bucket in text:
            return missing_bucket
        if "ServiceRequestError" in names:
            return "the Azure endpoint does not answer; check AZURE_STORAGE_ENDPOINT."
    return None


class OutputStore:
    """Files under one root URL (a local folder, s3://, gs://, az://).

    storage_options None means: resolve them from the environment (storage_options_from_env).
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
        if storage_options is None:
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
            detail = _scrub(f"{type(exc).__name__}: {exc}", self._secrets).splitlines()[0][:300]
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
        opener = self._local_atomic if self.is_local else self._remote_streaming
        with opener(target) as fh:
            fh.write(data)

    @contextlib.contextmanager
    def _local_atomic(self, target: str) -> Iterator[io.BufferedWriter]:
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
    def _remote_streaming(self, target: str) -> Iterator[Any]:
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
        target = self.path(relpath)
        opener = self._local_atomic if self.is_local else self._remote_streaming
        with opener(target) as fh:
            counted = _CountingWriter(fh)
            pq.write_table(table, counted, **parquet_options(table.schema))
        return counted.written

    def write_json(self, relpath: str, obj: Any) -> None:
        self.write_bytes(relpath, json.dumps(obj, indent=1, sort_keys=True).encode())

    def read_json(self, relpath: str) -> Any | None:
        self._fresh(relpath)
        try:  # one GET (opening a file asks for its size first)
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
        root = self.fs._strip_protocol(self.root).rstrip("/")
        found = []
        for full in listed:
            rel = self.fs._strip_protocol(full)[len(root) + 1 :]
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
