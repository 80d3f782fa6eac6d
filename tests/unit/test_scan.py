"""polars reads the output with its own client: the store's fsspec options, translated.

Each case builds the options as the project does (core/environment.py's settings, from an
environment, or a Dagster user's own integration resource) and checks what polars
gets. The scans themselves run against the real S3, GCS and Azure servers in
tests/integration/test_io_manager_stores.py.
"""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from dagster_aws.s3 import S3Resource
from dagster_azure.adls2 import ADLS2DefaultAzureCredential, ADLS2Resource, ADLS2SASToken

from superhero_assets.core import environment
from superhero_assets.core.store.config import StoreConfigError
from superhero_assets.core.store.output_store import OutputStore
from superhero_assets.core.store.scan import polars_options, scan
from superhero_assets.resources import OutputResource

KEY = "a2V5"  # any base64 account key
SAS = "sv=2024-01-01&sp=rl&sig=c2ln"
AZURITE = "http://127.0.0.1:10000/devstoreaccount1"
# What S3Resource's client settings (S3_MAX_ATTEMPTS, the store's timeouts) become.
S3_CLIENT = {"connect_timeout": "10s", "max_retries": 2}


def polars_options_from_env(url: str, env: dict[str, str]) -> dict | None:
    """The polars options of the store that the CLI's resources build from env."""
    output = environment.for_cli(env, output_fs=url).output
    return polars_options(url, output.storage_options()[0])


@pytest.mark.parametrize(
    ("url", "env", "expected"),
    [
        pytest.param("/data", {}, None, id="local"),
        pytest.param(
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
                **S3_CLIENT,
            },
            id="s3-keys-endpoint",
        ),
        pytest.param(
            "s3://b", {"AWS_REGION": "eu-west-1"}, {"aws_region": "eu-west-1", **S3_CLIENT}
        ),
        pytest.param(
            "s3://b",
            {"AWS_PROFILE": "analytics", "AWS_DEFAULT_REGION": "eu-west-1"},
            {"aws_profile": "analytics", "aws_region": "eu-west-1", **S3_CLIENT},
            id="s3-profile",
        ),
        pytest.param(
            "s3://b",
            {"AWS_PROFILE": "analytics", "AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "s"},
            # botocore signs with the keys; polars refuses a profile beside them
            {"aws_access_key_id": "id", "aws_secret_access_key": "s", **S3_CLIENT},
            id="s3-keys-win-over-profile",
        ),
        pytest.param(
            "gs://b",
            {"STORAGE_EMULATOR_HOST": "http://127.0.0.1:4443/", "GCP_PROJECT_ID": "p"},
            {
                "google_skip_signature": "true",
                "google_base_url": "http://127.0.0.1:4443",
                "allow_http": "true",
            },
            id="gcs-emulator",
        ),
        pytest.param("gs://b", {}, {}, id="gcs-default-credentials"),
        pytest.param(
            "az://c",
            {"AZURE_ACCOUNT_NAME": "acct", "AZURE_ACCOUNT_KEY": KEY},
            {"azure_storage_account_name": "acct", "azure_storage_account_key": KEY},
            id="azure-account-key",
        ),
        pytest.param(
            "az://c",
            {
                "AZURE_ACCOUNT_NAME": "devstoreaccount1",
                "AZURE_ACCOUNT_KEY": KEY,
                "AZURE_STORAGE_ENDPOINT": AZURITE + "/",
            },
            {
                "azure_storage_account_name": "devstoreaccount1",
                "azure_storage_account_key": KEY,
                "azure_endpoint": AZURITE,
                "allow_http": "true",
            },
            id="azure-key-http-endpoint",
        ),
        pytest.param(
            "abfs://c",
            {
                "AZURE_STORAGE_CONNECTION_STRING": "DefaultEndpointsProtocol=https;"
                f"AccountName=acct;AccountKey={KEY};EndpointSuffix=core.windows.net"
            },
            {
                "azure_storage_account_name": "acct",
                "azure_storage_account_key": KEY,
                "azure_endpoint": "https://acct.blob.core.windows.net",
            },
            id="azure-connection-string",
        ),
        pytest.param(
            "az://c",
            {
                "AZURE_STORAGE_CONNECTION_STRING": "DefaultEndpointsProtocol=http;"
                f"AccountName=devstoreaccount1;AccountKey={KEY};BlobEndpoint={AZURITE};"
                "QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;"
            },
            {
                "azure_storage_account_name": "devstoreaccount1",
                "azure_storage_account_key": KEY,
                "azure_endpoint": AZURITE,
                "allow_http": "true",
            },
            id="azure-connection-string-azurite",
        ),
        pytest.param(
            "az://c",
            {"AZURE_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true"},
            {"azure_storage_use_emulator": "true"},
            id="azure-connection-string-dev-storage",
        ),
        pytest.param(
            "az://c",
            {
                "AZURE_STORAGE_CONNECTION_STRING": f"BlobEndpoint={AZURITE};"
                f"SharedAccessSignature=?{SAS}"
            },
            {
                "azure_storage_account_name": "devstoreaccount1",  # from the endpoint
                "azure_storage_sas_key": SAS,
                "azure_endpoint": AZURITE,
                "allow_http": "true",
            },
            id="azure-connection-string-sas",
        ),
        pytest.param(
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
            id="azure-service-principal",
        ),
        pytest.param(
            "az://c",
            {
                "AZURE_ACCOUNT_NAME": "acct",
                "AZURE_TENANT_ID": "t",
                "AZURE_CLIENT_ID": "c",
                "AZURE_CLIENT_SECRET": "s",
                "AZURE_STORAGE_ENDPOINT": "https://blob.example.net:8443/",
            },
            {
                "azure_storage_account_name": "acct",
                "azure_tenant_id": "t",
                "azure_client_id": "c",
                "azure_client_secret": "s",
                "azure_endpoint": "https://blob.example.net:8443",  # adlfs's https://{host}
            },
            id="azure-service-principal-endpoint",
        ),
    ],
)
def test_each_environments_store_becomes_polars_options(url, env, expected):
    assert polars_options_from_env(url, env) == expected


def test_a_gcs_key_file_is_handed_to_polars(tmp_path):
    key = tmp_path / "sa.json"
    fields = {"client_email": "e@p.iam", "private_key": "k", "token_uri": "https://t"}
    key.write_text(json.dumps({"type": "service_account", **fields}))
    env = {"GOOGLE_APPLICATION_CREDENTIALS": str(key), "GOOGLE_CLOUD_PROJECT": "p"}
    assert polars_options_from_env("gs://b/p", env) == {"google_application_credentials": str(key)}


def test_dagster_users_own_resources_become_polars_options():
    sas = OutputResource(
        output_fs="az://c",
        adls2=ADLS2Resource(
            storage_account="acct",
            credential=ADLS2SASToken(token=SAS),
            endpoint_suffix="core.usgovcloudapi.net",
        ),
    )
    assert polars_options("az://c", sas.storage_options()[0]) == {
        "azure_storage_account_name": "acct",
        "azure_storage_sas_key": SAS,
        "azure_endpoint": "https://acct.blob.core.usgovcloudapi.net",
    }
    default = OutputResource(
        output_fs="az://c",
        adls2=ADLS2Resource(
            storage_account="acct", credential=ADLS2DefaultAzureCredential(kwargs={})
        ),
    )
    # polars builds DefaultAzureCredential itself when given no secret
    assert polars_options("az://c", default.storage_options()[0]) == {
        "azure_storage_account_name": "acct"
    }
    s3 = OutputResource(
        output_fs="s3://b",
        s3=S3Resource(
            use_unsigned_session=True,
            use_ssl=False,
            verify=False,
            region_name="eu-west-1",
            max_attempts=5,
        ),
    )
    assert polars_options("s3://b", s3.storage_options()[0]) == {
        "aws_skip_signature": "true",
        "aws_region": "eu-west-1",
        "aws_endpoint_url": "http://s3.eu-west-1.amazonaws.com",  # botocore's, without ssl
        "allow_http": "true",
        "allow_invalid_certificates": "true",
        "connect_timeout": "10s",
        "max_retries": 4,
    }


@pytest.mark.parametrize(
    ("url", "options", "named"),
    [
        ("s3://b", {"client_kwargs": {"verify": "/etc/ca.pem"}}, "client_kwargs.verify"),
        ("s3://b", {"requester_pays": True}, "requester_pays"),
        ("s3://b", {"config_kwargs": {"proxies": {"https": "p"}}}, "config_kwargs.proxies"),
        ("gs://b", {"token": {"access_token": "t"}}, "token"),
        ("az://c", {"account_name": "a", "credential": object()}, "credential"),
        ("az://c", {"connection_string": f"AccountName=a;SharedAccessKeyName={SAS}"}, "part"),
    ],
)
def test_an_option_polars_cannot_take_is_refused_by_name(url, options, named):
    with pytest.raises(ValueError, match=named) as caught:
        polars_options(url, options)
    assert SAS not in str(caught.value) and "/etc/ca.pem" not in str(caught.value)


def test_default_credential_kwargs_are_refused_not_dropped():
    resource = OutputResource(
        output_fs="az://c",
        adls2=ADLS2Resource(
            storage_account="acct",
            credential=ADLS2DefaultAzureCredential(
                kwargs={"exclude_managed_identity_credential": True}
            ),
        ),
    )
    with pytest.raises(StoreConfigError, match="exclude_managed_identity_credential"):
        polars_options("az://c", resource.storage_options()[0])


def test_fsspec_cache_switches_are_not_polars_business():
    assert polars_options("gs://b", {"token": "anon", "skip_instance_cache": True}) == {
        "google_skip_signature": "true"
    }


def test_a_scan_reads_only_what_its_query_asks_for(tmp_path):
    store = OutputStore(str(tmp_path))
    store.write_parquet("t/a/000/x.parquet", pa.table({"n": [1, 2], "s": ["a", "b"]}))
    store.write_parquet("t/b.parquet", pa.table({"n": [3], "s": ["c"]}))
    lazy = scan(store, ["t/a/000/x.parquet", "t/b.parquet"]).select("n")
    assert lazy.collect_schema().names() == ["n"]
    assert lazy.collect(engine="streaming")["n"].to_list() == [1, 2, 3]
    with pytest.raises(ValueError, match="at least one file"):
        scan(store, [])


def test_the_retries_read_the_same_once_botocore_has_renamed_them():
    """A client made from the options renames retries.max_attempts to total_max_attempts in
    place (the io_manager's UPath shares them): polars still gets the same retries."""
    env = {"OUTPUT_FS": "s3://tables/elt", "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    store = environment.for_cli(env).output.store()
    before = polars_options(store.root, store.fs.storage_options)
    retries = store.fs.storage_options["config_kwargs"]["retries"]
    retries["total_max_attempts"] = retries.pop("max_attempts")
    assert polars_options(store.root, store.fs.storage_options) == before
