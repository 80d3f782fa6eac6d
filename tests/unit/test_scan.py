"""polars reads the output with its own client: the store's fsspec options, translated.

The scans themselves run against the real S3, GCS and Azure servers in
tests/integration/test_io_manager_stores.py; here, what each store's settings become.
"""

import pyarrow as pa
import pytest

from superhero_assets.core.store.output_store import OutputStore, storage_options_from_env
from superhero_assets.core.store.scan import polars_options, scan

KEY = "a2V5"  # any base64 account key


@pytest.mark.parametrize(
    ("url", "env", "expected"),
    [
        ("/data", {}, None),
        (
            "s3://b/p",
            {
                "AWS_ACCESS_KEY_ID": "id",
                "AWS_SECRET_ACCESS_KEY": "secret",
                "AWS_SESSION_TOKEN": "token",
                "AWS_ENDPOINT_URL": "http://127.0.0.1:8333",
            },
            {
                "aws_access_key_id": "id",
                "aws_secret_access_key": "secret",
                "aws_session_token": "token",
                "aws_endpoint_url": "http://127.0.0.1:8333",
                "aws_region": "us-east-1",
                "allow_http": "true",
            },
        ),
        ("s3://b", {"AWS_REGION": "eu-west-1"}, {"aws_region": "eu-west-1"}),
        (
            "gs://b",
            {"STORAGE_EMULATOR_HOST": "http://127.0.0.1:4443/"},
            {
                "google_skip_signature": "true",
                "google_base_url": "http://127.0.0.1:4443",
                "allow_http": "true",
            },
        ),
        ("gs://b", {}, {}),  # application default credentials: polars finds them itself
        (
            "az://c",
            {
                "AZURE_ACCOUNT_NAME": "acct",
                "AZURE_ACCOUNT_KEY": KEY,
                "AZURE_STORAGE_ENDPOINT": "http://127.0.0.1:10000/acct",
            },
            {
                "azure_storage_account_name": "acct",
                "azure_storage_account_key": KEY,
                "azure_endpoint": "http://127.0.0.1:10000/acct",
                "allow_http": "true",
            },
        ),
        (
            "abfs://c",
            {"AZURE_ACCOUNT_NAME": "acct", "AZURE_ACCOUNT_KEY": KEY},
            {"azure_storage_account_name": "acct", "azure_storage_account_key": KEY},
        ),
        (
            "az://c",
            {
                "AZURE_STORAGE_CONNECTION_STRING": "DefaultEndpointsProtocol=https;"
                f"AccountName=acct;AccountKey={KEY};EndpointSuffix=core.windows.net"
            },
            {
                "azure_storage_account_name": "acct",
                "azure_storage_account_key": KEY,
                "azure_endpoint": "https://acct.blob.core.windows.net",
            },
        ),
        (
            "az://c",
            {
                "AZURE_ACCOUNT_NAME": "acct",
                "AZURE_TENANT_ID": "t",
                "AZURE_CLIENT_ID": "c",
                "AZURE_CLIENT_SECRET": "s",
            },
            {
                "azure_storage_account_name": "acct",
                "azure_tenant_id": "t",
                "azure_client_id": "c",
                "azure_client_secret": "s",
            },
        ),
    ],
)
def test_each_stores_settings_become_polars_options(url, env, expected):
    options, _ = storage_options_from_env(url, env)
    assert polars_options(url, options) == expected


def test_a_scan_reads_only_what_its_query_asks_for(tmp_path):
    store = OutputStore(str(tmp_path))
    store.write_parquet("t/a/000/x.parquet", pa.table({"n": [1, 2], "s": ["a", "b"]}))
    store.write_parquet("t/b.parquet", pa.table({"n": [3], "s": ["c"]}))
    lazy = scan(store, ["t/a/000/x.parquet", "t/b.parquet"]).select("n")
    assert lazy.collect_schema().names() == ["n"]
    assert lazy.collect(engine="streaming")["n"].to_list() == [1, 2, 3]
    with pytest.raises(ValueError, match="at least one file"):
        scan(store, [])
