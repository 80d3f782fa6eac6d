"""A `superhero dev` deployment of its own for the tests: its ELT environment, port and env."""

import time
from pathlib import Path

import pyarrow.parquet as pq

from tests.support.elt_env import EltEnv
from tests.support.stack import free_port

LOCATION = "superhero_assets.definitions"


class Dev:
    def __init__(self, stack, root: Path):
        self.elt = EltEnv.create(stack, root / "data")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.state = root / "state"
        self.env = {
            "SUPERHERO_STATE_DIR": str(self.state),
            "DAGSTER_HOME": str(root / "dagster_home"),
            **self.elt.deployment_env(),
        }

    def rows(self, table: str) -> int:
        return sum(
            pq.read_metadata(f).num_rows for f in self.elt.output.glob(f"{table}/**/*.parquet")
        )

    def wait_rows(self, table: str, want: int, timeout_s: float = 180) -> int:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.rows(table) < want:
            time.sleep(1)
        return self.rows(table)


def launched_while_another_ran(dagster_home: str, run_ids: list[str]) -> bool:
    """Whether the run coordinator launched one of these runs before another had ended: the
    runs were in progress together (with a limit of one run, each waits for the last)."""
    import dagster as dg

    spans = []
    with dg.DagsterInstance.from_config(dagster_home) as instance:
        for run_id in run_ids:
            launched = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_STARTING)
            ended = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_SUCCESS)
            if launched and ended:
                spans.append((launched[0].timestamp, ended[-1].timestamp))
    spans.sort()
    return any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:], strict=False))
