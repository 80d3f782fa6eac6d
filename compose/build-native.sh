#!/bin/sh
# Builds the native module (native/, Rust, via maturin) into a wheel in OUT_DIR.
# The image's build stage runs this script and tests/test_native_build.py runs it outside
# Docker, so the commands that make the image's wheel are the tested ones.
#   PYTHON=python3 sh compose/build-native.sh OUT_DIR
# Needs cargo and a C linker on PATH; maturin comes from requirements.lock, hash-checked.
# Cargo's target dir is native/target (or CARGO_TARGET_DIR), so a rebuild reuses it.
set -eu

out=${1:?usage: build-native.sh OUT_DIR}
python=${PYTHON:-python3}
root=$(cd "$(dirname "$0")/.." && pwd)

# The lock's maturin entry alone: pip cannot install one package out of a hash-locked file.
# Where it is already installed at that version (the dev venv) pip changes nothing.
req=$(mktemp)
trap 'rm -f "$req"' EXIT
awk '/^maturin==/ { on = 1; print; next } on && /^ +--hash=/ { print; next } { on = 0 }' \
    "$root/requirements.lock" >"$req"
grep -q '^maturin==' "$req" || { echo "error: no maturin in requirements.lock" >&2; exit 1; }
"$python" -m pip install -q --require-hashes --no-deps -r "$req"

# The interpreter's real path, however the caller named it: Cargo's cache is keyed on it.
interpreter=$("$python" -c 'import os, sys; print(os.path.realpath(sys.executable))')
# --locked: the crates of native/Cargo.lock, never newer ones resolved at build time.
"$python" -m maturin build --release --locked \
    --manifest-path "$root/native/Cargo.toml" --interpreter "$interpreter" --out "$out"
