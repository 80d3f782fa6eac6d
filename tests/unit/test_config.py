"""One way to configure: core/environment.py reads every variable into settings, and
superhero_assets/config.py makes Dagster's resources of them, field for field.

The CLI takes the settings themselves; the object store's credentials are Dagster's
integrations (S3Resource, GCSResource, ADLS2Resource) in the definitions, and
core/store/config.py turns either into the store's options. Pure: no service is reached.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import dagster as dg
import pytest
from dagster_aws.s3 import S3Resource
from dagster_azure.adls2 import (
    ADLS2DefaultAzureCredential,
    ADLS2Key,
    ADLS2Resource,
    ADLS2SASToken,
)
from dagster_gcp import GCSResource

from superhero_assets import config
from superhero_assets.cli import elt
from superhero_assets.core import environment
from superhero_assets.core.run.shard import Shard
from superhero_assets.core.settings import SECRETS as SECRET_VARIABLES
from superhero_assets.core.store.config import StoreConfigError
from superhero_assets.core.store.output_store import OutputStore, storage_options_from_env
from superhero_assets.resources import BatchLoaderResource, OutputResource
from tests.support.secrets import SECRETS, leaks

S3_ENV = {
    "OUTPUT_FS": "s3://tables/elt",
    "AWS_ACCESS_KEY_ID": "AKIA-TEST",
    "AWS_SECRET_ACCESS_KEY": SECRETS["AWS_SECRET_ACCESS_KEY"],
    "AWS_REGION": "eu-west-1",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:8333",
}
SERVICES_ENV = {
    "KAFKA_BOOTSTRAP_SERVERS": "kafka-1:9093,kafka-2:9093",
    "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "KAFKA_SASL_USERNAME": SECRETS["KAFKA_SASL_USERNAME"],
    "KAFKA_SASL_PASSWORD": SECRETS["KAFKA_SASL_PASSWORD"],
    "KAFKA_SSL_CA_LOCATION": "/etc/ca.pem",
    "REDIS_HOST": "redis.internal",
    "REDIS_PORT": "6380",
    "REDIS_DB": "3",
    "REDIS_PASSWORD": SECRETS["REDIS_PASSWORD"],
    "REDIS_SSL": "true",
    "SUPERHERO_TOPICS": "a.lobby, a.game",
    "ELT_LOCK_TTL_S": "45",
    "SENSOR_LAG_THRESHOLD": "50",
    "SENSOR_MAX_AGE_S": "12.5",
    "FRESH_WARN_S": "60",
    "FRESH_FAIL_S": "120",
    "SENSOR_INTERVAL_S": "7",
}


@pytest.fixture
def environ(monkeypatch):
    """Replace the process environment (what dg.EnvVar and the CLI read) with a mapping."""

    def set_to(env: dict[str, str]) -> dict[str, str]:
        for name in list(os.environ):
            if name.startswith(("AWS_", "AZURE_", "GOOGLE_", "GCP_", "STORAGE_EMULATOR")) or (
                name in SECRET_VARIABLES or name in SERVICES_ENV or name == "OUTPUT_FS"
            ):
                monkeypatch.delenv(name)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return env

    return set_to


def resolved_by_dagster(resource: BatchLoaderResource) -> BatchLoaderResource:
    """The loader as a Dagster run gets it: config processed, every dg.EnvVar resolved."""
    with dg.build_resources({"loader": resource}) as built:
        return built.loader


def test_definitions_and_the_cli_take_the_same_resources_from_one_environment(environ):
    env = environ({**SERVICES_ENV, **S3_ENV})
    dagster = resolved_by_dagster(config.for_dagster(env).loader)
    cli = environment.for_cli(env)
    assert dagster.kafka.client_config() == cli.kafka.client_config()
    assert cli.kafka.client_config() == {
        "bootstrap.servers": "kafka-1:9093,kafka-2:9093",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": SECRETS["KAFKA_SASL_USERNAME"],
        "sasl.password": SECRETS["KAFKA_SASL_PASSWORD"],
        "ssl.ca.location": "/etc/ca.pem",
    }
    d_redis, c_redis = dagster.redis_state.client(), cli.redis_state.client()
    assert d_redis.connection_pool.connection_kwargs == c_redis.connection_pool.connection_kwargs
    assert d_redis.connection_pool.connection_class is c_redis.connection_pool.connection_class
    kwargs = c_redis.connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("redis.internal", 6380, 3)
    assert kwargs["password"] == SECRETS["REDIS_PASSWORD"]
    assert dagster.output.output_fs == cli.output.output_fs == "s3://tables/elt"
    assert dagster.output.storage_options() == cli.output.storage_options()
    assert dagster.output.store().root == cli.output.store().root
    assert dagster.topics() == cli.topics() == ("a.lobby", "a.game")
    assert dagster.lock_ttl_s == cli.lock_ttl_s == 45


def test_the_definitions_wire_the_builders_resources():
    from superhero_assets import definitions

    built = definitions.resources
    assert definitions.defs.resources["loader"] is built.loader
    assert definitions.defs.resources["io_manager"].output is built.output
    assert definitions.defs.resources["lag_policy"] is built.lag_policy
    assert definitions.defs.resources["freshness_limits"] is built.freshness_limits
    assert built.loader.kafka is built.kafka and built.loader.output is built.output


def test_the_policies_come_from_the_same_environment():
    built = config.for_dagster(SERVICES_ENV)
    assert (built.lag_policy.lag_threshold, built.lag_policy.max_age_s) == (50, 12.5)
    assert (built.freshness_limits.warn_after_s, built.freshness_limits.fail_after_s) == (60, 120)
    assert built.sensor_interval_s == 7


def test_superhero_load_builds_the_loader_that_batch_loader_resource_builds(environ):
    environ({**SERVICES_ENV, **S3_ENV, "OUTPUT_FS": "s3://other/prefix"})
    args = argparse.Namespace(
        output_fs="s3://other/prefix",
        topics=("t.one",),
        chunk_messages=500,
        lock_ttl=9,
        shard=Shard(2, 3),
    )
    cli = elt.build_loader(args)
    built = config.for_dagster()
    resource = BatchLoaderResource(
        kafka=built.kafka,
        redis_state=built.redis_state,
        output=built.output,
        source_topics=["t.one"],
        chunk_messages=500,
        lock_ttl_s=9,
    )
    dagster = resolved_by_dagster(resource).loader(shard=Shard(2, 3))
    assert cli.config == dagster.config and cli.config.shard == Shard(2, 3)
    assert (cli.config.topics, cli.config.chunk_messages) == (("t.one",), 500)
    assert cli.kafka_config == dagster.kafka_config
    pool = cli.redis_client.connection_pool.connection_kwargs
    assert pool == dagster.redis_client.connection_pool.connection_kwargs
    assert cli.store.root == dagster.store.root == "s3://other/prefix"
    assert cli.store.fs.storage_options == dagster.store.fs.storage_options
    assert cli.store.fs.key == "AKIA-TEST"  # the store got the environment's S3 key


def test_the_cli_never_imports_dagster():
    """`superhero load` starts in the time of its own imports, not Dagster's."""
    code = (
        "import sys; import superhero_tools.cli, superhero_assets.cli.elt, "
        "superhero_assets.cli.lag, superhero_assets.cli.output, superhero_assets.core.environment; "
        "superhero_assets.core.environment.for_cli({'OUTPUT_FS': 's3://b'}).loader; "
        "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith('dagster')}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_each_settings_class_has_its_resources_fields_and_defaults():
    """The settings and the resources made of them cannot drift apart (config.py copies
    one into the other field for field)."""
    from dataclasses import MISSING, fields

    from superhero_assets.core import settings
    from superhero_assets.core.store import settings as store_settings
    from superhero_assets.resources import KafkaResource, RedisStateResource

    pairs = [
        (settings.KafkaSettings, KafkaResource),
        (settings.RedisSettings, RedisStateResource),
        (settings.LoaderSettings, BatchLoaderResource),
        (store_settings.OutputSettings, OutputResource),
        (store_settings.S3Settings, S3Resource),
        (store_settings.GcsSettings, GCSResource),
        (store_settings.AdlsSettings, ADLS2Resource),
        (store_settings.AzureKey, ADLS2Key),
        (store_settings.AzureDefaultCredential, ADLS2DefaultAzureCredential),
    ]
    for plain, resource in pairs:
        model = resource.model_fields
        assert {f.name for f in fields(plain)} == set(model), plain
        for f in fields(plain):
            default = f.default_factory() if f.default_factory is not MISSING else f.default
            if model[f.name].is_required():
                continue
            given = model[f.name].get_default(call_default_factory=True)
            assert default == given, (plain, f.name)


def test_dagster_sees_only_the_names_of_secrets_and_the_cli_never_prints_them(environ):
    env = environ({**SERVICES_ENV, **S3_ENV})
    dagster = config.for_dagster(env)
    assert dagster.kafka.sasl_password == dg.EnvVar("KAFKA_SASL_PASSWORD")
    assert dagster.redis_state.password == dg.EnvVar("REDIS_PASSWORD")
    assert dagster.output.s3.aws_secret_access_key == dg.EnvVar("AWS_SECRET_ACCESS_KEY")
    assert leaks(repr(dagster)) == []
    assert leaks(repr(environment.for_cli(env))) == []  # the values are there, not in the repr


def test_secrets_that_are_not_set_stay_unset():
    built = config.for_dagster({"OUTPUT_FS": "s3://b", "REDIS_PASSWORD": ""})
    assert built.redis_state.password is None
    assert built.kafka.sasl_username is None and built.kafka.sasl_password is None
    assert built.output.s3.aws_access_key_id is None


def test_bad_numbers_name_their_variable():
    with pytest.raises(ValueError, match="REDIS_PORT must be a whole number"):
        environment.for_cli({"REDIS_PORT": "six"})
    with pytest.raises(ValueError, match="FRESH_WARN_S must be a number of seconds"):
        config.for_dagster({"FRESH_WARN_S": "soon"})


@pytest.mark.parametrize("output_fs", ["./data", "/srv/tables", "file:///srv/tables"])
def test_a_local_output_gets_no_cloud_resource(output_fs):
    env = {**S3_ENV, "AZURE_ACCOUNT_NAME": "acct", "GCP_PROJECT_ID": "p", "OUTPUT_FS": output_fs}
    out = config.for_dagster(env).output
    assert (out.s3, out.gcs, out.adls2) == (None, None, None)
    assert out.storage_options() == ({}, [])
    assert os.path.isabs(out.output_fs)


def test_only_the_cloud_output_fs_names_gets_its_resource():
    env = {**S3_ENV, "AZURE_ACCOUNT_NAME": "acct", "AZURE_ACCOUNT_KEY": "k", "GCP_PROJECT_ID": "p"}
    out = config.for_dagster(env).output
    assert isinstance(out.s3, S3Resource)
    assert (out.gcs, out.adls2, out.azure_connection_string) == (None, None, None)


# --- S3 ------------------------------------------------------------------------------------


def test_s3_environment_to_s3_resource_to_storage_options():
    env = {**S3_ENV, "AWS_SESSION_TOKEN": "tok-1", "AWS_PROFILE": "loader"}
    s3 = config.for_dagster(env).output.s3
    assert isinstance(s3, S3Resource)
    assert s3.aws_access_key_id == dg.EnvVar("AWS_ACCESS_KEY_ID")
    assert s3.aws_secret_access_key == dg.EnvVar("AWS_SECRET_ACCESS_KEY")
    assert s3.aws_session_token == dg.EnvVar("AWS_SESSION_TOKEN")
    assert (s3.region_name, s3.endpoint_url, s3.profile_name) == (
        "eu-west-1",
        "http://127.0.0.1:8333",
        "loader",
    )
    cli = environment.for_cli(env).output
    assert cli.s3.aws_secret_access_key == SECRETS["AWS_SECRET_ACCESS_KEY"]
    options, secrets = cli.storage_options()
    assert options == {
        "config_kwargs": {
            "connect_timeout": 10,
            "read_timeout": 60,
            "retries": {"max_attempts": 3, "mode": "standard"},
        },
        "client_kwargs": {"endpoint_url": "http://127.0.0.1:8333", "region_name": "eu-west-1"},
        "key": "AKIA-TEST",
        "secret": SECRETS["AWS_SECRET_ACCESS_KEY"],
        "token": "tok-1",
        "profile": "loader",
    }
    assert secrets == [SECRETS["AWS_SECRET_ACCESS_KEY"], "tok-1"]
    # The function the tools and OutputStore use gives the same.
    assert storage_options_from_env("s3://tables/elt", env) == (options, secrets)


def test_s3_aliases_and_the_emulator_region_default():
    env = {"OUTPUT_FS": "s3a://b", "AWS_ENDPOINT_URL_S3": "http://s3", "AWS_ENDPOINT_URL": "x"}
    options, secrets = environment.for_cli(env).output.storage_options()
    assert options["client_kwargs"] == {"endpoint_url": "http://s3", "region_name": "us-east-1"}
    assert "key" not in options and secrets == []  # no key: boto's own chain
    env = {"OUTPUT_FS": "s3://b", "AWS_DEFAULT_REGION": "ap-south-1"}
    assert environment.for_cli(env).output.storage_options()[0]["client_kwargs"] == {
        "region_name": "ap-south-1"
    }


@pytest.mark.parametrize("given", ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"])
def test_half_an_s3_key_fails_when_used_naming_the_missing_variable(given):
    other = ({"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} - {given}).pop()
    out = config.for_dagster({"OUTPUT_FS": "s3://b", given: "x"}).output  # builds fine
    with pytest.raises(StoreConfigError, match=f"{other} .* is not set, but its partner is"):
        environment.for_cli({"OUTPUT_FS": "s3://b", given: "x"}).output.store()
    assert out.s3 is not None


def test_a_dagster_users_own_s3_resource_is_honoured():
    out = OutputResource(
        output_fs="s3://b/p",
        s3=S3Resource(
            aws_access_key_id="id",
            aws_secret_access_key="sk",
            max_attempts=7,
            use_ssl=False,
            verify=False,
            use_unsigned_session=True,
        ),
    )
    options, _ = out.storage_options()
    assert options["config_kwargs"]["retries"]["max_attempts"] == 7
    assert options["use_ssl"] is False and options["anon"] is True
    assert options["client_kwargs"] == {"verify": False}
    assert "sk" not in repr(out)
    # Without one: S3Resource()'s meaning, boto's own chain.
    assert "key" not in OutputResource(output_fs="s3://b").storage_options()[0]


# --- GCS -----------------------------------------------------------------------------------


def test_gcs_emulator_environment_to_gcs_resource_to_storage_options():
    env = {
        "OUTPUT_FS": "gs://tables/elt",
        "GCP_PROJECT_ID": "superhero-local",
        "STORAGE_EMULATOR_HOST": "http://127.0.0.1:4443",
    }
    out = config.for_dagster(env).output
    assert isinstance(out.gcs, GCSResource) and out.gcs.project == "superhero-local"
    assert out.gcs_endpoint_url == "http://127.0.0.1:4443"
    assert out.gcs_credentials_file is None
    assert out.storage_options() == (
        {"project": "superhero-local", "endpoint_url": "http://127.0.0.1:4443", "token": "anon"},
        [],
    )


def test_gcs_key_file_or_application_default_credentials(tmp_path):
    key = tmp_path / "sa.json"
    key.write_text(
        json.dumps(
            {"type": "service_account", "client_email": "a@b", "private_key": "k", "token_uri": "u"}
        )
    )
    env = {
        "OUTPUT_FS": "gs://t",
        "GOOGLE_CLOUD_PROJECT": "p2",
        "GOOGLE_APPLICATION_CREDENTIALS": str(key),
    }
    out = config.for_dagster(env).output
    assert out.gcs.project == "p2" and out.gcs_credentials_file == str(key)
    assert out.storage_options() == ({"project": "p2", "token": str(key)}, [])
    adc = config.for_dagster({"OUTPUT_FS": "gs://t"}).output
    assert adc.storage_options() == ({"token": "google_default"}, [])
    missing = {**env, "GOOGLE_APPLICATION_CREDENTIALS": str(tmp_path / "none.json")}
    with pytest.raises(StoreConfigError, match="GOOGLE_APPLICATION_CREDENTIALS names"):
        config.for_dagster(missing).output.storage_options()


# --- Azure ---------------------------------------------------------------------------------

AZURITE = {
    "OUTPUT_FS": "az://tables/elt",
    "AZURE_ACCOUNT_NAME": "devstoreaccount1",
    "AZURE_ACCOUNT_KEY": SECRETS["AZURE_ACCOUNT_KEY"],
    "AZURE_STORAGE_ENDPOINT": "http://127.0.0.1:10000/devstoreaccount1/",
}


def test_azurite_environment_to_adls2_resource_to_storage_options():
    out = config.for_dagster(AZURITE).output
    assert isinstance(out.adls2, ADLS2Resource)
    assert out.adls2.storage_account == "devstoreaccount1"
    assert out.adls2.credential == ADLS2Key(key=dg.EnvVar("AZURE_ACCOUNT_KEY"))
    assert out.azure_endpoint_url == "http://127.0.0.1:10000/devstoreaccount1/"
    options, secrets = environment.for_cli(AZURITE).output.storage_options()
    cs = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        f"AccountKey={SECRETS['AZURE_ACCOUNT_KEY']};"
        "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
    )
    assert options == {"connection_string": cs}
    assert secrets == [SECRETS["AZURE_ACCOUNT_KEY"], cs]
    assert leaks(repr(environment.for_cli(AZURITE).output)) == []


def test_azure_account_key_without_an_endpoint():
    env = {k: v for k, v in AZURITE.items() if k != "AZURE_STORAGE_ENDPOINT"}
    options, secrets = environment.for_cli(env).output.storage_options()
    assert options == {"account_name": "devstoreaccount1", "account_key": secrets[0]}


def test_azure_service_principal_to_adls2_default_credential_and_its_secret():
    env = {
        "OUTPUT_FS": "abfs://tables",
        "AZURE_STORAGE_ACCOUNT_NAME": "acct",
        "AZURE_TENANT_ID": "tenant",
        "AZURE_CLIENT_ID": "client",
        "AZURE_CLIENT_SECRET": SECRETS["AZURE_CLIENT_SECRET"],
    }
    out = config.for_dagster(env).output
    assert out.adls2.storage_account == "acct"
    assert out.adls2.credential == ADLS2DefaultAzureCredential(kwargs={})
    assert (out.azure_tenant_id, out.azure_client_id) == ("tenant", "client")
    assert out.azure_client_secret == dg.EnvVar("AZURE_CLIENT_SECRET")
    options, secrets = environment.for_cli(env).output.storage_options()
    assert options == {
        "account_name": "acct",
        "tenant_id": "tenant",
        "client_id": "client",
        "client_secret": SECRETS["AZURE_CLIENT_SECRET"],
    }
    assert secrets == [SECRETS["AZURE_CLIENT_SECRET"]]
    half = {k: v for k, v in env.items() if k != "AZURE_CLIENT_ID"}
    with pytest.raises(StoreConfigError, match="AZURE_CLIENT_ID not set"):
        environment.for_cli(half).output.storage_options()


def test_azure_connection_string_wins_and_is_a_secret():
    cs = "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=k;"
    env = {**AZURITE, "AZURE_STORAGE_CONNECTION_STRING": cs}
    assert config.for_dagster(env).output.azure_connection_string == dg.EnvVar(
        "AZURE_STORAGE_CONNECTION_STRING"
    )
    assert environment.for_cli(env).output.storage_options() == ({"connection_string": cs}, [cs])
    only = {"OUTPUT_FS": "az://c", "AZURE_STORAGE_CONNECTION_STRING": cs}
    assert environment.for_cli(only).output.storage_options() == ({"connection_string": cs}, [cs])


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OUTPUT_FS": "az://c"}, "AZURE_ACCOUNT_NAME is not set"),
        ({"OUTPUT_FS": "az://c", "AZURE_ACCOUNT_NAME": "a"}, "no Azure credentials"),
    ],
)
def test_azure_without_account_or_credentials_fails_when_used(env, message):
    out = config.for_dagster(env).output  # the definitions still load
    with pytest.raises(StoreConfigError, match=message):
        out.store()


def test_a_dagster_users_own_adls2_resource_is_honoured():
    sas = OutputResource(
        output_fs="az://c/p",
        adls2=ADLS2Resource(
            storage_account="acct",
            credential=ADLS2SASToken(token="sv=1&sig=abc"),
            endpoint_suffix="core.usgovcloudapi.net",
        ),
    )
    assert sas.storage_options() == (
        {
            "account_name": "acct",
            "sas_token": "sv=1&sig=abc",
            "account_host": "acct.blob.core.usgovcloudapi.net",
        },
        ["sv=1&sig=abc"],
    )
    assert "sig=abc" not in repr(sas)
    default = OutputResource(
        output_fs="az://c",
        adls2=ADLS2Resource(
            storage_account="acct",
            credential=ADLS2DefaultAzureCredential(
                kwargs={"exclude_managed_identity_credential": True}
            ),
        ),
    )
    assert default.storage_options() == (
        {"account_name": "acct", "anon": False, "exclude_managed_identity_credential": True},
        [],
    )


def test_an_output_store_without_options_takes_the_environments(environ):
    environ(AZURITE)
    store = OutputStore("az://tables/elt")
    assert (
        store.fs.connection_string
        == environment.for_cli().output.storage_options()[0]["connection_string"]
    )


@pytest.mark.parametrize(
    "env",
    [
        {**SERVICES_ENV, **S3_ENV, "AWS_SESSION_TOKEN": "tok-SECRET-1"},
        {**SERVICES_ENV, **AZURITE},
        {
            **SERVICES_ENV,
            "OUTPUT_FS": "az://c",
            "AZURE_ACCOUNT_NAME": "acct",
            "AZURE_TENANT_ID": "t",
            "AZURE_CLIENT_ID": "c",
            "AZURE_CLIENT_SECRET": SECRETS["AZURE_CLIENT_SECRET"],
            "AZURE_STORAGE_CONNECTION_STRING": "AccountKey=cs-SECRET-2",
        },
    ],
    ids=["s3", "azurite", "azure-service-principal"],
)
def test_what_dagster_records_of_the_resources_names_secrets_never_holds_them(environ, env):
    from dagster._core.remote_representation.external_data import RepositorySnap

    from superhero_assets.resources import ParquetTablesIOManager

    environ(env)
    built = config.for_dagster(env)
    defs = dg.Definitions(
        resources={
            "loader": built.loader,
            "io_manager": ParquetTablesIOManager(output=built.output),
        }
    )
    snapshot = str(RepositorySnap.from_def(defs.get_repository_def()))
    secrets = [v for k, v in env.items() if k in SECRET_VARIABLES]
    assert secrets and not [v for v in secrets if v in snapshot]
    assert all(k in snapshot for k in env if k in SECRET_VARIABLES)
