"""polars' storage_options from the output store's fsspec options (core/store/config.py).

polars reads object stores with Rust's object_store, not fsspec, so each option that
config.py can emit is translated to object_store's (or polars' own) key here. An option
with no translation is refused by name (`StoreConfigError`, a ValueError), never dropped:
a credential polars does not see makes its scans fail, or sign as someone else, where
OutputStore works. Messages name options only, never their values (they may be secrets).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from superhero_assets.core.store.config import AZURE_DEFAULT_ENDPOINT_SUFFIX, StoreConfigError

PolarsOptions = dict[str, str | int]

# fsspec's own switches, about its instance cache: nothing for polars to do.
FSSPEC_ONLY = frozenset({"skip_instance_cache"})


class _Unread:
    """The options not yet translated: each is taken once, and any left over is refused."""

    def __init__(self, options: Mapping[str, Any] | None, cloud: str, prefix: str = "") -> None:
        self.left = dict(options or {})
        self.cloud = cloud
        self.prefix = prefix

    def take(self, name: str, default: Any = None) -> Any:
        return self.left.pop(name, default)

    def nested(self, name: str) -> _Unread:
        """A dict-valued option (client_kwargs, config_kwargs), read the same way."""
        return _Unread(self.take(name), self.cloud, f"{self.prefix}{name}.")

    def refuse(self, name: str, why: str) -> StoreConfigError:
        return StoreConfigError(
            f"polars cannot read the {self.cloud} output with fsspec option "
            f"{self.prefix}{name!s}: {why}"
        )

    def done(self) -> None:
        """Refuse whatever was not translated (named, never its value)."""
        for name in FSSPEC_ONLY & self.left.keys():
            del self.left[name]
        if self.left:
            names = ", ".join(f"{self.prefix}{n}" for n in sorted(self.left))
            raise StoreConfigError(
                f"polars cannot read the {self.cloud} output with fsspec option(s) {names}: "
                "no object_store setting matches; change the store's configuration."
            )


def translate(cloud: str, options: Mapping[str, Any]) -> PolarsOptions:
    """object_store's options for this cloud ('s3', 'gcs', 'azure'), from fsspec's."""
    unread = _Unread(options, cloud)
    out = {"s3": _s3, "gcs": _gcs, "azure": _azure}[cloud](unread)
    unread.done()
    return out


def _http(endpoint: str | None) -> PolarsOptions:
    """object_store refuses plain http unless told: a local emulator speaks nothing else."""
    return {"allow_http": "true"} if endpoint and endpoint.startswith("http://") else {}


# --- S3 ----------------------------------------------------------------------------------


def _s3(o: _Unread) -> PolarsOptions:
    """s3fs's options (key, secret, token, anon, profile, use_ssl, client/config kwargs)."""
    client, config = o.nested("client_kwargs"), o.nested("config_kwargs")
    out: PolarsOptions = {}
    keys = {
        "key": "aws_access_key_id",
        "secret": "aws_secret_access_key",
        "token": "aws_session_token",
    }
    for ours, theirs in keys.items():
        value = o.take(ours)
        if value:
            out[theirs] = value
    anon = bool(o.take("anon", False))
    profile = o.take("profile")
    if anon:  # s3fs's unsigned requests: public buckets, emulators without auth
        out["aws_skip_signature"] = "true"
    elif profile and "aws_access_key_id" not in out:
        # polars resolves a profile itself (boto3), and refuses one beside explicit keys;
        # those win over a profile's in botocore too.
        out["aws_profile"] = profile
    region = client.take("region_name")
    endpoint = client.take("endpoint_url")
    if o.take("use_ssl", True) is False and not endpoint:
        # botocore's plain-http endpoint; an endpoint_url's own scheme wins over use_ssl.
        endpoint = f"http://s3.{region or 'us-east-1'}.amazonaws.com"
    if region:
        out["aws_region"] = region
    if endpoint:
        out["aws_endpoint_url"] = endpoint
    out.update(_verify(client))
    out.update(_botocore_config(config))
    client.done()
    config.done()
    return {**out, **_http(endpoint)}


def _verify(client: _Unread) -> PolarsOptions:
    """botocore's verify: False skips certificate checks; a CA bundle has no key to go to."""
    verify = client.take("verify")
    if verify is False:
        return {"allow_invalid_certificates": "true"}
    if verify is None or verify is True:
        return {}
    raise client.refuse(
        "verify", "object_store takes no CA bundle; add the CA to the system's trust store"
    )


def _botocore_config(config: _Unread) -> PolarsOptions:
    """The client's timeouts and retries (config_kwargs), as far as object_store has them."""
    out: PolarsOptions = {}
    connect = config.take("connect_timeout")
    if connect is not None:
        out["connect_timeout"] = f"{connect}s"
    # object_store's "timeout" bounds a whole request, not one socket read: a large row
    # group may rightly take longer than read_timeout, so polars keeps its default.
    config.take("read_timeout")
    retries = config.nested("retries")
    # botocore renames max_attempts to total_max_attempts in place once a client is made.
    total = retries.take("total_max_attempts")
    attempts = retries.take("max_attempts", total)
    if attempts is not None:
        out["max_retries"] = max(int(attempts) - 1, 0)  # botocore counts the first try
    retries.take("mode")  # polars backs off its own way
    retries.done()
    return out


# --- GCS ---------------------------------------------------------------------------------


def _gcs(o: _Unread) -> PolarsOptions:
    """gcsfs's options: token (anon, google_default or a key file), endpoint, project."""
    token, endpoint = o.take("token"), o.take("endpoint_url")
    # A project names where buckets are listed or made; reading an object needs none.
    o.take("project")
    out: PolarsOptions = {}
    if token == "anon":  # an emulator: unsigned requests
        out["google_skip_signature"] = "true"
    elif token in (None, "google_default"):
        pass  # application default credentials, which polars finds by itself
    elif isinstance(token, str) and token not in ("cloud", "browser", "cache"):
        out["google_application_credentials"] = token  # a service-account or user key file
    else:
        raise o.refuse("token", "polars takes anon, default credentials or a key file")
    if endpoint:
        out["google_base_url"] = endpoint.rstrip("/")
    return {**out, **_http(endpoint)}


# --- Azure -------------------------------------------------------------------------------


def _azure(o: _Unread) -> PolarsOptions:
    """adlfs's options: a connection string, or an account with its key, SAS token, service
    principal or DefaultAzureCredential, and account_host."""
    connection_string = o.take("connection_string")
    if connection_string:
        return _azure_connection_string(connection_string, o)
    names = {
        "account_name": "azure_storage_account_name",
        "account_key": "azure_storage_account_key",
        "tenant_id": "azure_tenant_id",
        "client_id": "azure_client_id",
        "client_secret": "azure_client_secret",
    }
    out: PolarsOptions = {t: o.take(f) for f, t in names.items() if o.left.get(f)}
    sas = o.take("sas_token")
    if sas:  # adlfs adds the "?" a SAS token may lack; object_store takes the bare query
        out["azure_storage_sas_key"] = sas.lstrip("?")
    if o.take("anon") is True:
        out["azure_skip_signature"] = "true"
    # anon=False (DefaultAzureCredential): polars builds that credential itself. Its kwargs,
    # which polars has no place for, stay in `o` and are refused by name.
    host = o.take("account_host")
    if host:  # adlfs always speaks https to it
        out["azure_endpoint"] = f"https://{host}"
    return out


def _azure_connection_string(text: str, o: _Unread) -> PolarsOptions:
    """A connection string's parts: account, key or SAS, and its blob endpoint."""
    parts = dict(p.split("=", 1) for p in text.split(";") if "=" in p)
    if parts.pop("UseDevelopmentStorage", "").lower() == "true":
        if parts:  # a proxy or another account: object_store's emulator mode has neither
            raise o.refuse("connection_string", f"UseDevelopmentStorage with {sorted(parts)}")
        return {"azure_storage_use_emulator": "true"}  # Azurite's well-known account
    endpoint = parts.pop("BlobEndpoint", "").rstrip("/")
    scheme = parts.pop("DefaultEndpointsProtocol", "")
    suffix = parts.pop("EndpointSuffix", "")
    account = parts.pop("AccountName", "") or _account_of(endpoint)
    out: PolarsOptions = {"azure_storage_account_name": account} if account else {}
    if parts.get("AccountKey"):
        out["azure_storage_account_key"] = parts.pop("AccountKey")
    if parts.get("SharedAccessSignature"):
        out["azure_storage_sas_key"] = parts.pop("SharedAccessSignature").lstrip("?")
    for other in ("QueueEndpoint", "TableEndpoint", "FileEndpoint"):
        parts.pop(other, None)  # other services' addresses: polars reads blobs only
    if parts:
        raise o.refuse("connection_string", f"unexpected part(s) {sorted(parts)}")
    if not endpoint and (scheme or suffix):
        suffix = suffix or AZURE_DEFAULT_ENDPOINT_SUFFIX
        endpoint = f"{scheme or 'https'}://{account}.blob.{suffix}"
    if endpoint:
        out["azure_endpoint"] = endpoint
    return {**out, **_http(endpoint)}


def _account_of(endpoint: str) -> str:
    """The account a blob endpoint names, as the Azure SDK reads it: the host's first label,
    or for an emulator's address (an IP or localhost) the path's first part."""
    rest = endpoint.split("://", 1)[-1]
    host, _, path = rest.partition("/")
    hostname = host.split(":", 1)[0]
    if hostname == "localhost" or hostname.replace(".", "").isdigit():
        return path.split("/", 1)[0]
    return hostname.split(".", 1)[0]
