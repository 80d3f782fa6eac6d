"""The image's build stage, run outside Docker: compose/build-native.sh makes the native
module's wheel, and a Python given only that wheel imports it and the loader uses it.

No Docker engine is needed: the Dockerfile's build stage RUNs this same script and its
runtime stage installs the wheel with the same pip command (tests/unit/test_compose.py checks
both), so what passes here is what the image builds. `make venv` builds through the same
script into the same Cargo target dir (native/target), so here the build is a cache hit.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
SCRIPT = ROOT / "compose" / "build-native.sh"

# Run by the Python that has only the wheel added: which module it imported, whether the
# loader's detection says native, and a checksum computed by the native code itself.
PROBE = """
import json
import pyarrow as pa
import superhero_native
from superhero_assets.core.parse import native
print(json.dumps({
    "module": superhero_native.__file__,
    "available": native.available(),
    "crc": native.crc32_digits(pa.array([b"superhero"])).decode(),
}))
"""


def _cargo() -> str | None:
    """cargo on PATH, else where rustup puts it (as the Makefile looks for it)."""
    rustup_cargo = Path.home() / ".cargo" / "bin" / "cargo"
    return shutil.which("cargo") or (str(rustup_cargo) if rustup_cargo.exists() else None)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cargo = _cargo()
    if cargo is None:
        # CI installs Rust, so a skip there would hide an image that cannot build.
        assert not os.environ.get("CI"), "cargo is missing in CI"
        pytest.skip("Rust's cargo is not installed: the image's build stage cannot run here")
    out = tmp_path_factory.mktemp("wheels")
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "PATH": f"{Path(cargo).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    result = subprocess.run(
        ["sh", str(SCRIPT), str(out)], env=env, capture_output=True, text=True, timeout=1800
    )
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    wheels = sorted(out.glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_the_script_builds_one_abi3_wheel(wheel: Path) -> None:
    # abi3: the one wheel serves the image's Python 3.11 and any later one.
    assert wheel.name.startswith("superhero_native-0.1.0-cp311-abi3-"), wheel.name


def test_a_python_with_only_the_wheel_added_imports_it_and_the_loader_uses_it(
    wheel: Path, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    # The runtime stage's install command, into a folder instead of the image's site-packages.
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), wheel],
        check=True,
        timeout=300,
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("SUPERHERO_NATIVE", None)  # the image leaves it unset: native is on
    result = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout)
    # PYTHONPATH comes before site-packages: the module is the wheel's, not the venv's.
    assert Path(probe["module"]).is_relative_to(site), probe["module"]
    assert probe["available"] is True
    assert probe["crc"] == f"{zlib.crc32(b'superhero'):08x}"
