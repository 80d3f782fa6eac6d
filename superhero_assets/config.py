"""Every Dagster resource, built from the environment in this one place.

core/environment.py reads each variable into plain settings (core/settings.py,
core/store/settings.py); this module makes Dagster's resources of them, field for field,
with every secret as `dg.EnvVar(name)`, set only when the variable is, so Dagster's UI and
run config show the variable's name, never its value, and a run resolves it itself. The
CLI (`superhero load`, `lag`, `output adopt`), the worker and the bench take the same
settings without Dagster (`environment.for_cli`), and each resource builds its clients
through the settings class of its fields, so both connect the same way.

The output's object store is configured on Dagster's integrations, built only for the cloud
that OUTPUT_FS names: dagster-aws's `S3Resource`, dagster-gcp's `GCSResource`,
dagster-azure's `ADLS2Resource`; core/store/config.py turns them into the store's options.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg
from dagster_aws.s3 import S3Resource
from dagster_azure.adls2 import ADLS2DefaultAzureCredential, ADLS2Key, ADLS2Resource
from dagster_gcp import GCSResource

from superhero_assets.core import environment
from superhero_assets.core.settings import Env, field_values
from superhero_assets.core.store.settings import AzureKey, OutputSettings
from superhero_assets.resources import (
    BatchLoaderResource,
    KafkaResource,
    OutputResource,
    RedisStateResource,
)


def _env(env: Mapping[str, str] | Env | None) -> Env:
    return env if isinstance(env, Env) else Env(env, secret_as=dg.EnvVar)


def kafka(env: Mapping[str, str] | Env | None = None) -> KafkaResource:
    return KafkaResource(**field_values(environment.kafka(_env(env))))


def redis_state(env: Mapping[str, str] | Env | None = None) -> RedisStateResource:
    return RedisStateResource(**field_values(environment.redis_state(_env(env))))


def output_resource(settings: OutputSettings) -> OutputResource:
    """The settings as OutputResource, each cloud's as its Dagster integration."""
    fields = field_values(settings)
    if settings.s3 is not None:
        fields["s3"] = S3Resource(**field_values(settings.s3))
    if settings.gcs is not None:
        fields["gcs"] = GCSResource(project=settings.gcs.project)
    if settings.adls2 is not None:
        given = settings.adls2.credential
        credential = (
            ADLS2Key(key=given.key)
            if isinstance(given, AzureKey)
            else ADLS2DefaultAzureCredential(kwargs=given.kwargs)
        )
        fields["adls2"] = ADLS2Resource(
            storage_account=settings.adls2.storage_account,
            credential=credential,
            endpoint_suffix=settings.adls2.endpoint_suffix,
        )
    return OutputResource(**fields)


def output(env: Mapping[str, str] | Env | None = None) -> OutputResource:
    """OUTPUT_FS with the integration resource of the cloud it names (what each variable
    sets: core/environment.py's `output`)."""
    return output_resource(environment.output(_env(env)))


# --- The loader and the sensor's limits -------------------------------------------------


@dataclass(frozen=True)
class Resources:
    """Every resource the definitions use, built from one environment."""

    kafka: KafkaResource
    redis_state: RedisStateResource
    output: OutputResource
    loader: BatchLoaderResource
    lag_policy: Any  # assets.sensors.LagPolicy
    freshness_limits: Any  # assets.freshness.FreshnessLimits
    sensor_interval_s: int
    executor: dg.ExecutorDefinition


def for_dagster(env: Mapping[str, str] | None = None) -> Resources:
    """All the definitions' resources from env (default: os.environ), secrets as dg.EnvVar."""
    from superhero_assets.assets.freshness import FreshnessLimits
    from superhero_assets.assets.sensors import LagPolicy

    e = _env(env)
    k, r, o = kafka(e), redis_state(e), output(e)
    return Resources(
        kafka=k,
        redis_state=r,
        output=o,
        loader=BatchLoaderResource(
            kafka=k, redis_state=r, output=o, **environment.loader_fields(e)
        ),
        lag_policy=LagPolicy(
            lag_threshold=e.number("SENSOR_LAG_THRESHOLD", 1000),
            max_age_s=e.seconds("SENSOR_MAX_AGE_S", 30),
        ),
        freshness_limits=FreshnessLimits(
            warn_after_s=e.seconds("FRESH_WARN_S", 300),
            fail_after_s=e.seconds("FRESH_FAIL_S", 900),
        ),
        sensor_interval_s=e.number("SENSOR_INTERVAL_S", 10),
        executor=executor(e),
    )


# --- Where the steps run -----------------------------------------------------------------

EXECUTORS = ("in_process", "celery", "k8s")


def executor(env: Mapping[str, str] | Env | None = None) -> dg.ExecutorDefinition:
    """SUPERHERO_EXECUTOR: where a run's steps execute, on an engine Dagster already drives.

    in_process  (default) one process per run: the steps run one after another anyway.
    celery      each step is a task for dagster-celery's workers, over the broker
                CELERY_BROKER_URL with results in CELERY_RESULT_BACKEND (the project's
                Redis, in databases of their own: docs/operations.md). Both are read by name
                at run time, as the workers read them, so a password never enters the config.
    k8s         each step is a Kubernetes job (dagster-k8s), in the run's namespace and
                image; the run launcher is deploy/kubernetes/'s.
    """
    e = _env(env)
    chosen = (e.text("SUPERHERO_EXECUTOR") or "in_process").lower()
    if chosen == "in_process":
        return dg.in_process_executor
    if chosen == "celery":
        from dagster_celery import celery_executor

        missing = [n for n in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND") if not e.text(n)]
        if missing:
            raise ValueError(
                f"SUPERHERO_EXECUTOR=celery needs {' and '.join(missing)}: for the project's "
                "Redis, e.g. CELERY_BROKER_URL=redis://127.0.0.1:6379/1 and "
                "CELERY_RESULT_BACKEND=redis://127.0.0.1:6379/2"
            )
        return celery_executor.configured(
            {
                "broker": {"env": "CELERY_BROKER_URL"},
                "backend": {"env": "CELERY_RESULT_BACKEND"},
            }
        )
    if chosen == "k8s":
        from dagster_k8s import k8s_job_executor

        return k8s_job_executor
    raise ValueError(f"SUPERHERO_EXECUTOR must be one of {', '.join(EXECUTORS)}, got {chosen!r}")
