"""`superhero dev` end to end: the sensor loads by itself, GraphQL launches, the UI renders."""

import os
import re
import time
from pathlib import Path

import psutil
import pytest

from superhero_assets.assets import ALL_CHECKS, tables_are_fresh
from superhero_assets.core import contract
from superhero_tools.devserver import session_members
from superhero_tools.stack import procs
from tests.support.dagster_dev import LOCATION, Dev
from tests.support.dagster_ui import (
    chromium_available,
    launch_materialize_all,
    open_browser,
    stop_sensor,
    wait_for_run,
    wait_until_no_run_in_flight,
)
from tests.support.stack import superhero

pytestmark = pytest.mark.integration
ARTIFACTS = Path(os.environ.get("SUPERHERO_TEST_ARTIFACTS", ".superhero-test/artifacts"))


NEEDS_CHROMIUM = pytest.mark.skipif(
    not chromium_available(),
    reason="Debian's chromium and chromedriver "
    "are not installed (make test installs them when run as root)",
)


def page_text(browser) -> str:
    """The page's text, once the newsletter pop-up of a fresh instance is dismissed."""
    from selenium.webdriver.common.by import By

    for button in browser.find_elements(By.XPATH, "//button[normalize-space()='Skip']"):
        button.click()
    return browser.find_element(By.TAG_NAME, "body").text


def all_passed(page_text: str) -> list[str]:
    return [m for m in re.findall(r"(\d+) / (\d+) Passed", page_text) if m[0] == m[1]]


@pytest.fixture(scope="module")
def dev(stack, tmp_path_factory):
    dev = Dev(stack, tmp_path_factory.mktemp("dev"))
    started = superhero("dev", "--detach", "--port", str(dev.port), env=dev.env)
    assert started.returncode == 0, started.stdout + started.stderr
    yield dev
    superhero("dev", "--stop", env=dev.env)
    dev.elt.cleanup()


def test_the_sensor_loads_new_game_logs_by_itself(dev):
    expected = dev.elt.produce_matches(10)
    assert dev.wait_rows("buffer_meta", expected["messages"]) == expected["messages"]
    assert dev.wait_rows("lib_server_lobby", expected["lobby"]) == expected["lobby"]
    assert dev.rows("lib_server_game") == expected["game"]
    deadline = time.monotonic() + 60
    while (
        time.monotonic() < deadline
        and dev.elt.state()[contract.last_offset_key(dev.elt.game)] is None
    ):
        time.sleep(1)
    assert dev.elt.state()[contract.last_offset_key(dev.elt.game)] is not None


def test_a_materialization_launched_through_graphql_succeeds(dev):
    # With the sensor on, it may load the new matches first and leave this run nothing to
    # do (a run with nothing new materializes nothing and skips its checks).
    stop_sensor(dev.url, LOCATION, "kafka_lag_sensor")
    # A tick being evaluated when the sensor stopped may still submit its run: let it.
    time.sleep(2 * int(dev.env["SENSOR_INTERVAL_S"]) + 1)
    wait_until_no_run_in_flight(dev.url)
    before = dev.rows("buffer_meta")
    more = dev.elt.produce_matches(5, start=10)
    keys = ["raw_messages", *contract.TABLES, "kafka_offsets"]
    checks = [
        (key.asset_key.path[-1], key.name)
        for check in [*ALL_CHECKS, tables_are_fresh]
        for key in check.check_keys
    ]
    run_id = launch_materialize_all(dev.url, LOCATION, keys, checks)
    run = wait_for_run(dev.url, run_id)
    assert run["status"] == "SUCCESS", run
    materialized = {tuple(m["assetKey"]["path"]) for m in run["assetMaterializations"]}
    assert {(k,) for k in keys} <= materialized
    total = before + more["messages"]
    assert dev.wait_rows("buffer_meta", total) == total


@NEEDS_CHROMIUM
def test_the_asset_graph_shows_the_tables_and_their_checks_in_a_browser(dev, tmp_path):

    browser = open_browser(str(tmp_path / "profile"))
    try:
        browser.get(f"{dev.url}/asset-groups/superhero_elt")
        deadline, text = time.monotonic() + 60, ""
        while time.monotonic() < deadline:
            text = page_text(browser)
            if all(t in text for t in contract.TABLES) and len(all_passed(text)) >= 5:
                break
            time.sleep(1)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "asset-graph.png"))
    finally:
        browser.quit()
    for table in ("buffer_meta", "log_meta", "lib_server_lobby", "lib_server_game", "etl_meta"):
        assert table in text
    # Every table node shows its checks as "n / n Passed": all the tables have checks.
    assert len(all_passed(text)) >= 5, text
    assert (ARTIFACTS / "asset-graph.png").stat().st_size > 10_000


@NEEDS_CHROMIUM
def test_an_asset_page_shows_the_tables_size_on_disk_and_a_preview_table(dev, tmp_path):
    from selenium.webdriver.common.by import By

    browser = open_browser(str(tmp_path / "profile"))
    shown, on_disk, preview = None, None, []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:  # until no run is between its files and the UI
            browser.get(f"{dev.url}/assets/lib_server_game")
            time.sleep(3)
            text = page_text(browser)
            found = re.search(r"Row count\n([\d,]+)", text)
            shown = int(found.group(1).replace(",", "")) if found else None
            on_disk = dev.rows("lib_server_game")
            # The preview's own table: its header row names the table's columns.
            preview = [
                [cell.text for cell in row.find_elements(By.XPATH, "./td")]
                for row in browser.find_elements(
                    By.XPATH, "//table[thead/tr/th[normalize-space()='enemy_damage']]/tbody/tr"
                )
            ]
            if shown == on_disk and preview:
                break
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "lib_server_game.png"))
    finally:
        browser.quit()
    # "Row count" is the whole table, as a glob over its files counts it.
    assert shown == on_disk and on_disk > 0, (shown, on_disk)
    # The preview renders as an HTML table of the table's rows, not Markdown behind a link.
    assert preview and any(cell.startswith(dev.elt.game + ":") for cell in preview[0]), preview


def test_stopping_dagster_dev_leaves_no_process_behind(dev):
    record = procs.read_record(dev.state, "dagster")
    assert record is not None and record.is_running()
    members = [p.pid for p in session_members(record.pid)]
    assert len(members) >= 3  # dagster dev, the webserver, the daemon (and code servers)
    stopped = superhero("dev", "--stop", env=dev.env)
    assert stopped.returncode == 0, stopped.stderr
    assert session_members(record.pid) == []
    assert not any(
        psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in members
    )
