"""Talk to a running Dagster webserver: its GraphQL API and, in a real browser, its UI."""

from __future__ import annotations

import json
import shutil
import time
import urllib.request

LAUNCH = """
mutation Launch($executionParams: ExecutionParams!) {
  launchPipelineExecution(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
  }
}
"""

RUN_STATUS = """
query Run($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { status assetMaterializations { assetKey { path } } }
  }
}
"""

SENSOR_STATE = """
query Sensor($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor { sensorState { id status } }
  }
}
"""

STOP_SENSOR = """
mutation Stop($id: String!) {
  stopSensor(id: $id) {
    __typename
    ... on StopSensorMutationResult { instigationState { status } }
    ... on PythonError { message }
  }
}
"""

START_SENSOR = """
mutation Start($selector: SensorSelector!) {
  startSensor(sensorSelector: $selector) {
    __typename
    ... on Sensor { sensorState { status } }
    ... on PythonError { message }
  }
}
"""

RUNS_IN_FLIGHT = """
query InFlight {
  runsOrError(filter: {statuses: [QUEUED, NOT_STARTED, STARTING, STARTED, CANCELING]}) {
    ... on Runs { results { runId } }
  }
}
"""


SHARD_RUNS = """
query ShardRuns($filter: RunsFilter!) {
  runsOrError(filter: $filter) {
    ... on Runs { results { runId status startTime endTime tags { key value } } }
  }
}
"""

LAUNCH_BACKFILL = """
mutation Backfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}
"""


def graphql(url: str, query: str, variables: dict) -> dict:
    body = json.dumps({"query": query, "variables": variables}).encode()
    request = urllib.request.Request(f"{url}/graphql", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as resp:
        payload = json.loads(resp.read())
    assert "errors" not in payload, payload
    return payload["data"]


def launch_materialize_all(
    url: str, location: str, asset_keys: list[str], checks: list[tuple[str, str]]
) -> str:
    """The call the UI's 'Materialize all' button makes: the asset job with a selection of
    the assets and of their checks, given as (asset, check name)."""
    params = {
        "selector": {
            "repositoryLocationName": location,
            "repositoryName": "__repository__",
            "pipelineName": "__ASSET_JOB",
            "assetSelection": [{"path": [key]} for key in asset_keys],
            "assetCheckSelection": [
                {"assetKey": {"path": [asset]}, "name": name} for asset, name in checks
            ],
        },
        "mode": "default",
        "executionMetadata": {"tags": [{"key": "dagster/from_ui", "value": "true"}]},
    }
    result = graphql(url, LAUNCH, {"executionParams": params})["launchPipelineExecution"]
    assert result["__typename"] == "LaunchRunSuccess", result
    return result["run"]["runId"]


def sensor_selector(location: str, sensor: str) -> dict[str, str]:
    return {
        "repositoryLocationName": location,
        "repositoryName": "__repository__",
        "sensorName": sensor,
    }


def stop_sensor(url: str, location: str, sensor: str) -> None:
    """What the UI's sensor toggle does: the sensor launches no more runs."""
    selector = sensor_selector(location, sensor)
    found = graphql(url, SENSOR_STATE, {"selector": selector})["sensorOrError"]
    assert found["__typename"] == "Sensor", found
    stopped = graphql(url, STOP_SENSOR, {"id": found["sensorState"]["id"]})["stopSensor"]
    assert stopped["__typename"] == "StopSensorMutationResult", stopped
    assert stopped["instigationState"]["status"] == "STOPPED", stopped


def start_sensor(url: str, location: str, sensor: str) -> None:
    """What the UI's sensor toggle does to turn it back on."""
    selector = sensor_selector(location, sensor)
    started = graphql(url, START_SENSOR, {"selector": selector})["startSensor"]
    assert started["__typename"] == "Sensor", started
    assert started["sensorState"]["status"] == "RUNNING", started


def wait_until_no_run_in_flight(url: str, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not graphql(url, RUNS_IN_FLIGHT, {})["runsOrError"]["results"]:
            return
        time.sleep(1)
    raise AssertionError(f"runs still in flight after {timeout_s}s")


def wait_for_run(url: str, run_id: str, timeout_s: float = 180) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = graphql(url, RUN_STATUS, {"runId": run_id})["runOrError"]
        if run.get("status") in ("SUCCESS", "FAILURE", "CANCELED"):
            return run
        time.sleep(1)
    raise AssertionError(f"run {run_id} did not finish in {timeout_s}s")


def chromium_available() -> bool:
    return bool(shutil.which("chromium") and shutil.which("chromedriver"))


def open_browser(profile_dir: str):
    """Debian's headless Chromium through its chromedriver; nothing is downloaded."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1600,1800",
        f"--user-data-dir={profile_dir}",
    ):
        options.add_argument(arg)
    options.binary_location = shutil.which("chromium")
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)


def runs_of_partitions(url: str) -> list[dict]:
    """Every run tagged with a partition: its id, status, start and end, and partition."""
    found = graphql(url, SHARD_RUNS, {"filter": {}})["runsOrError"]["results"]
    runs = []
    for run in found:
        tags = {t["key"]: t["value"] for t in run["tags"]}
        if "dagster/partition" in tags:
            runs.append({**run, "partition": tags["dagster/partition"], "tags": tags})
    return runs


def launch_backfill(url: str, asset_keys: list[str], partitions: list[str]) -> str:
    """What the UI's "Materialize all" launches for partitioned assets: an asset backfill."""
    params = {
        "assetSelection": [{"path": [key]} for key in asset_keys],
        "partitionNames": partitions,
        "fromFailure": False,
    }
    result = graphql(url, LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
    assert result["__typename"] == "LaunchBackfillSuccess", result
    return result["backfillId"]
