"""Dagster definitions for superhero-dataflow: wiring only; the logic lives in plain modules.

Every resource comes from the environment through superhero_assets/config.py, made of the
settings the CLI reads the same way (core/environment.py); secrets as dg.EnvVar.
"""

import dagster as dg

from superhero_assets import config
from superhero_assets.assets import ALL_CHECKS, ELT_ASSETS, tables_are_fresh
from superhero_assets.assets.recovery import release_locks_of_failed_runs
from superhero_assets.assets.sensors import build_lag_sensor, elt_job
from superhero_assets.resources import ParquetTablesIOManager

resources = config.for_dagster()

defs = dg.Definitions(
    assets=ELT_ASSETS,
    jobs=[elt_job],
    sensors=[build_lag_sensor(resources.sensor_interval_s), release_locks_of_failed_runs],
    asset_checks=[*ALL_CHECKS, tables_are_fresh],
    # In one process by default (the steps run one after another anyway, and this spares a
    # Python start-up per step); SUPERHERO_EXECUTOR puts them on Celery workers or k8s jobs.
    executor=resources.executor,
    resources={
        "loader": resources.loader,
        "io_manager": ParquetTablesIOManager(output=resources.output),
        "lag_policy": resources.lag_policy,
        "freshness_limits": resources.freshness_limits,
    },
)
