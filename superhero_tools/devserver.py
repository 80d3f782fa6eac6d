"""`superhero dev`: the Dagster webserver and daemon on 127.0.0.1:3000, so the sensor runs.

It is `dagster dev -m superhero_assets.definitions` with DAGSTER_HOME in the state folder
and the project's dagster.yaml. A known trap: started in the background from a script,
`dagster dev` inherits an ignored SIGINT and then ignores SIGINT and SIGTERM. So SIGINT is
reset to its default before the exec, `--detach` starts it in its own session, and `--stop`
signals that whole session, escalating to SIGKILL, so no child is left behind.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import time
import urllib.request
from pathlib import Path

import psutil

from superhero_tools.settings import Settings
from superhero_tools.stack import StackError, procs

PROJECT_DAGSTER_YAML = Path(__file__).resolve().parents[1] / "dagster.yaml"
DEFINITIONS = "superhero_assets.definitions"
# `dagster asset materialize` of every asset: what the UI's "Materialize all" runs.
MATERIALIZE_ALL = ("asset", "materialize", "-m", DEFINITIONS, "--select", "*")
ELT_JOB = ("job", "execute", "-m", DEFINITIONS, "-j", "superhero_elt_job")


def dagster_cli(*args: str) -> list[str]:
    """argv for the `dagster` command of this environment."""
    return [str(Path(sys.executable).with_name("dagster")), *args]


def register(sub: argparse._SubParsersAction) -> None:
    dev = sub.add_parser(
        "dev",
        help="Dagster webserver + daemon on 127.0.0.1:3000",
        description="`dagster dev` on the project's definitions, with DAGSTER_HOME (default: "
        "{SUPERHERO_STATE_DIR}/dagster_home) holding the project's dagster.yaml.",
    )
    dev.add_argument(
        "--host",
        default=os.getenv("DAGSTER_WEBSERVER_HOST", "127.0.0.1"),
        help="the webserver's address (default: DAGSTER_WEBSERVER_HOST, else 127.0.0.1)",
    )
    dev.add_argument(
        "--port",
        type=int,
        default=int(os.getenv("DAGSTER_WEBSERVER_PORT", "3000")),
        help="the webserver's port (default: DAGSTER_WEBSERVER_PORT, else 3000)",
    )
    mode = dev.add_mutually_exclusive_group()
    mode.add_argument(
        "--detach",
        action="store_true",
        help="run in the background, log in the state folder (default: in the foreground, "
        "until Ctrl-C)",
    )
    mode.add_argument(
        "--stop",
        action="store_true",
        help="stop a detached `superhero dev` (default: start one)",
    )
    dev.set_defaults(handler=run_dev)


def dagster_home(settings: Settings) -> Path:
    """DAGSTER_HOME if set, else {state}/dagster_home, holding the project's dagster.yaml."""
    home = Path(os.environ.get("DAGSTER_HOME") or settings.state_dir / "dagster_home")
    home.mkdir(parents=True, exist_ok=True)
    if PROJECT_DAGSTER_YAML.exists() and not (home / "dagster.yaml").exists():
        shutil.copy(PROJECT_DAGSTER_YAML, home / "dagster.yaml")
    return home


def _argv(host: str, port: int) -> list[str]:
    dagster = Path(sys.executable).with_name("dagster")
    return [str(dagster), "dev", "-m", "superhero_assets.definitions", "-h", host, "-p", str(port)]


def _reset_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_dev(args: argparse.Namespace, settings: Settings) -> int:
    if args.stop:
        stop(settings)
        return 0
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home(settings))}
    argv = _argv(args.host, args.port)
    if not args.detach:
        _reset_sigint()
        os.execve(argv[0], argv, env)
    record = procs.read_record(settings.state_dir, "dagster")
    if record and record.is_running():
        print(f"dagster dev already running: pid {record.pid}, {record.address}")
        return 0
    record = procs.spawn(
        settings.state_dir,
        "dagster",
        argv,
        f"http://{args.host}:{args.port}",
        env=env,
        preexec_fn=_reset_sigint,
    )
    wait_ready(record, timeout_s=settings.startup_timeout_s)
    print(
        f"dagster dev: pid {record.pid}, UI at {record.address} "
        f"(DAGSTER_HOME={env['DAGSTER_HOME']}); stop it with `superhero dev --stop`"
    )
    return 0


def wait_ready(record: procs.ProcessRecord, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not record.is_running():
            raise StackError(
                f"dagster dev exited; its last log lines:\n{procs.tail(record.log_file)}"
            )
        try:
            with urllib.request.urlopen(f"{record.address}/server_info", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    raise StackError(
        f"the Dagster webserver did not answer within {timeout_s}s; its last log "
        f"lines:\n{procs.tail(record.log_file)}"
    )


def session_members(session_id: int) -> list[psutil.Process]:
    members = []
    for proc in psutil.process_iter():
        try:
            if os.getsid(proc.pid) == session_id and proc.status() != psutil.STATUS_ZOMBIE:
                members.append(proc)
        except (OSError, psutil.Error):
            continue
    return members


def stop(settings: Settings, grace_s: float = 30.0) -> None:
    """SIGINT (dagster dev's clean shutdown), then SIGKILL anything left in its session."""
    record = procs.read_record(settings.state_dir, "dagster")
    if record is None or not record.is_running():
        procs.forget(settings.state_dir, "dagster")
        print("dagster dev is not running")
        return
    os.kill(record.pid, signal.SIGINT)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and session_members(record.pid):
        time.sleep(0.5)
    for proc in session_members(record.pid):
        proc.kill()
    psutil.wait_procs(session_members(record.pid), timeout=10)
    procs.forget(settings.state_dir, "dagster")
    print(f"dagster dev: stopped pid {record.pid} and its children")
