"""The Kubernetes path, shipped as configuration: deploy/kubernetes/ resolves to dagster-k8s's
run launcher and step executor, and its settings validate against their schemas (no cluster)."""

import shutil
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._config import Shape, validate_config
from dagster._core.instance.config import dagster_instance_config
from dagster._serdes.config_class import ConfigurableClassData
from dagster_k8s import K8sRunLauncher, k8s_job_executor

from superhero_assets import config

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "kubernetes"
POSTGRES = ("HOST", "USER", "PASSWORD", "DB", "PORT")


@pytest.fixture
def instance_config(monkeypatch, tmp_path):
    """deploy/kubernetes/dagster.yaml as Dagster reads an instance's file, schema and all."""
    for name in POSTGRES:
        monkeypatch.setenv(f"DAGSTER_POSTGRES_{name}", "5432" if name == "PORT" else "x")
    shutil.copy(K8S / "dagster.yaml", tmp_path / "dagster.yaml")
    loaded, _ = dagster_instance_config(str(tmp_path))
    return loaded


def test_the_instance_launches_each_run_as_a_kubernetes_job(instance_config):
    launcher = instance_config["run_launcher"]
    data = ConfigurableClassData(
        launcher["module"], launcher["class"], yaml.safe_dump(launcher["config"])
    )
    assert data.info_dict()["class"] == "K8sRunLauncher"
    resolved = getattr(__import__(data.module_name, fromlist=[data.class_name]), data.class_name)
    assert resolved is K8sRunLauncher
    checked = validate_config(Shape(K8sRunLauncher.config_type()), launcher["config"])
    assert checked.success, checked.errors
    assert launcher["config"]["env_config_maps"] == ["superhero-env"]
    assert launcher["config"]["env_secrets"] == ["superhero-secrets"]


def test_the_instance_keeps_the_projects_one_run_pool_and_run_monitoring(instance_config):
    project = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    assert instance_config["concurrency"] == project["concurrency"]
    assert instance_config["run_monitoring"] == project["run_monitoring"]


def test_superhero_executor_k8s_runs_each_step_as_a_kubernetes_job():
    executor = config.executor({"SUPERHERO_EXECUTOR": "k8s"})
    assert executor is k8s_job_executor
    step_config = {"job_namespace": "superhero", "env_config_maps": ["superhero-env"]}
    checked = validate_config(executor.config_schema.config_type, step_config)
    assert checked.success, checked.errors
    job = dg.define_asset_job("probe", executor_def=executor)
    assert job.executor_def is k8s_job_executor


def test_the_helm_values_deploy_the_code_and_the_same_launcher():
    values = yaml.safe_load((K8S / "values.yaml").read_text())
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert deployment["dagsterApiGrpcArgs"] == ["-m", "superhero_assets.definitions"]
    assert {"name": "SUPERHERO_EXECUTOR", "value": "k8s"} in deployment["env"]
    launcher = values["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher"
    instance = yaml.safe_load((K8S / "dagster.yaml").read_text())["run_launcher"]["config"]
    chart = launcher["config"]["k8sRunLauncher"]
    assert chart["jobNamespace"] == instance["job_namespace"]
    assert [m["name"] for m in chart["envConfigMaps"]] == instance["env_config_maps"]
    assert [s["name"] for s in chart["envSecrets"]] == instance["env_secrets"]


def test_an_unknown_or_half_configured_executor_is_refused_by_name():
    with pytest.raises(ValueError, match="SUPERHERO_EXECUTOR must be one of"):
        config.executor({"SUPERHERO_EXECUTOR": "ray"})
    with pytest.raises(ValueError, match="needs CELERY_BROKER_URL and CELERY_RESULT_BACKEND"):
        config.executor({"SUPERHERO_EXECUTOR": "celery"})
    assert config.executor({}) is dg.in_process_executor
