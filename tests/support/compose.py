"""The compose files and the image, read as Docker reads them, for the compose tests.

Paths of the compose folder, the Dockerfile parsed into stages, the files the runtime image
copies, and processes started in a session of their own (SIGINT reset) and stopped whole.
"""

import contextlib
import os
import re
import shlex
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

COMPOSE = Path(__file__).resolve().parents[2] / "compose" / "docker-compose.local.yml"


COMPOSE_DIR = COMPOSE.parent


ROOT = COMPOSE_DIR.parent


DOCKERFILE = COMPOSE_DIR / "Dockerfile"


INSTANCE_YAML = COMPOSE_DIR / "dagster.yaml"


DAGSTER_SERVICES = ("dagster-webserver", "dagster-daemon", "code-server")
# The Celery workers: `--scale worker=N`. They share the instance, not the healthchecks.
CELERY_WORKER = "worker"


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, instruction: str) -> list[str]:
        return [args for name, args in self.instructions if name == instruction]

    def env(self) -> dict[str, str]:
        return dict(pair.split("=", 1) for env in self.args("ENV") for pair in shlex.split(env))


def stages() -> list[Stage]:
    """The Dockerfile's stages in order: comment lines dropped, continued lines joined."""
    lines = [line for line in DOCKERFILE.read_text().splitlines() if not line.startswith("#")]
    stages: list[Stage] = []
    for line in re.sub(r"\\\n\s*", " ", "\n".join(lines)).splitlines():
        instruction, _, args = line.strip().partition(" ")
        if instruction.upper() == "FROM":
            base, name = re.fullmatch(r"(\S+)(?:\s+as\s+(\S+))?", args, re.IGNORECASE).groups()
            stages.append(Stage(base, name or ""))
        elif instruction:
            stages[-1].instructions.append((instruction.upper(), args.strip()))
    return stages


def stage(name: str) -> Stage:
    (stage,) = [s for s in stages() if s.name == name]
    return stage


def copies(stage: Stage) -> list[list[str]]:
    return [shlex.split(args) for args in stage.args("COPY")]


def image_files() -> dict[str, Path]:
    """Each file the runtime stage copies from the repository: {path in the image: file}."""
    runtime = stages()[-1]
    env = runtime.env()
    files = {}
    for *sources, dest in copies(runtime):
        if sources[0].startswith("--from="):
            continue
        dest = re.sub(r"\$\{?(\w+)\}?", lambda m: env[m.group(1)], dest)
        for source in sources:
            target = f"{dest}{Path(source).name}" if dest.endswith("/") else dest
            files[target] = ROOT / source
    return files


def instance_env_names() -> set[str]:
    return set(re.findall(r"env: (\w+)", INSTANCE_YAML.read_text()))


def compose_value(value: str) -> str:
    """A compose value as compose gives it when the user sets nothing: ${VAR:-default}."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(value))


def option(command: list[str], *names: str) -> str:
    (i,) = [i for i, word in enumerate(command) if word in names]
    return command[i + 1]


def with_port(command: list[str], port: int) -> list[str]:
    """The command on 127.0.0.1 and another port: a compose port is not free on a host."""
    out = list(command)
    for flag, value in (("-p", str(port)), ("-h", "127.0.0.1")):
        if flag in out:
            out[out.index(flag) + 1] = value
    return out


def reset_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def spawn(argv: list[str], cwd: Path, env: dict[str, str], name: str) -> subprocess.Popen:
    """argv in its own session, logging to cwd/{name}.log. SIGINT is reset to its default:
    Dagster's servers give SIGTERM SIGINT's handler, so a SIGINT ignored by a background
    shell that started pytest would make them ignore SIGTERM too."""
    return subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdout=(cwd / f"{name}.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=reset_sigint,
    )


def stop_session(process: subprocess.Popen) -> None:
    """SIGTERM to the session this test started (the code server and the gRPC server it
    forks), then SIGKILL to whatever of it is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=15)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=15)
