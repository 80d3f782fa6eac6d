# The README's two commands: `make demo` (the main job end to end) and `make test`.
# Everything else they need (the venv, Kafka's jars, redis-server) they install themselves.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# The test stack lives on its own ports and state folder, beside any demo stack.
TEST_ENV := SUPERHERO_STATE_DIR=.superhero-test KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19092 \
	KAFKA_CONTROLLER_PORT=19093 REDIS_PORT=16379 \
	SUPERHERO_S3_PORT=17333 SUPERHERO_GCS_PORT=14443 SUPERHERO_AZURITE_PORT=20000
# checkov lives in its own venv: it pins boto3 and friends to versions the app does not use.
CACHE_DIR ?= $(or $(SUPERHERO_CACHE_DIR),$(HOME)/.cache/superhero)
CHECKOV_VERSION := 3.3.30
CHECKOV := $(CACHE_DIR)/checkov-venv/bin/checkov
# The native hot path (native/, Rust) is built when cargo is found; rustup puts it here.
CARGO ?= $(or $(shell command -v cargo),$(wildcard $(HOME)/.cargo/bin/cargo))
NATIVE := $(VENV)/.native-built
NATIVE_SOURCES := native/Cargo.toml native/Cargo.lock native/pyproject.toml $(wildcard native/src/*.rs)

.PHONY: demo test venv lint native-test browser postgres stack-up stack-down clean checkov

$(BIN)/superhero: pyproject.toml requirements.lock
	@test -n "$(PYTHON)" || { echo "error: Python 3.11+ is needed (python3.11 or python3 on PATH)"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "error: $(PYTHON) is older than 3.11; install Python 3.11+ or run make PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --require-hashes --no-deps -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	@touch $@

# Without cargo the loader still runs, on the DuckDB path: the same tables, slower.
# The wheel comes from compose/build-native.sh, as in the image, so the venv, the image and
# tests/unit/test_native_build.py share one build and Cargo's target dir stays warm between them.
$(NATIVE): $(BIN)/superhero $(NATIVE_SOURCES) compose/build-native.sh
	@if [ -n "$(CARGO)" ]; then \
		rm -rf $(VENV)/native-wheel && \
		PATH="$(dir $(CARGO)):$$PATH" PYTHON="$(abspath $(BIN)/python)" \
			sh compose/build-native.sh $(VENV)/native-wheel && \
		$(BIN)/pip install -q --no-deps --force-reinstall $(VENV)/native-wheel/*.whl && touch $@; \
	else echo "note: Rust's cargo was not found, so the loader runs without its native hot" \
		"path (same tables, about 2x slower). Install Rust (https://rustup.rs), then make venv."; fi

venv: $(BIN)/superhero $(NATIVE)

native-test:
	@if [ -n "$(CARGO)" ]; then $(CARGO) test -q --release --manifest-path native/Cargo.toml; fi

demo: venv
	$(BIN)/superhero demo

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The browser test drives Debian's Chromium; as root on Debian/Ubuntu it is installed here.
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends chromium chromium-driver >/dev/null; \
	else echo "note: the browser test is skipped without chromium and chromedriver" \
		"(Debian/Ubuntu: sudo apt-get install chromium chromium-driver)"; fi

# The compose test runs Dagster's services on a throwaway Postgres: Debian's server, which
# is installed here as root on Debian/Ubuntu.
postgres:
	@if command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends postgresql >/dev/null; \
	else echo "note: the compose topology test is skipped without PostgreSQL's server" \
		"(Debian/Ubuntu: sudo apt-get install postgresql)"; fi

$(CHECKOV):
	$(PYTHON) -m venv $(CACHE_DIR)/checkov-venv
	$(CACHE_DIR)/checkov-venv/bin/pip install -q checkov==$(CHECKOV_VERSION)

checkov: $(CHECKOV)

# The test stack includes the local S3 (SeaweedFS), GCS (fake-gcs-server) and Azure (Azurite).
test: venv lint native-test browser postgres checkov
	$(TEST_ENV) $(BIN)/superhero stack up --with s3,gcs,azure
	$(TEST_ENV) CHECKOV=$(CHECKOV) $(BIN)/pytest; status=$$?; $(TEST_ENV) $(BIN)/superhero stack down; exit $$status

stack-up: venv
	$(BIN)/superhero stack up

stack-down: venv
	$(BIN)/superhero stack down

clean: venv
	$(BIN)/superhero stack down --purge
	$(TEST_ENV) $(BIN)/superhero stack down --purge
