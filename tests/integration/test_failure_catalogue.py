"""Every failure a user can cause ends in one line that says what to check (issue 15).

Each test breaks one thing (the output's disk, the Redis address, the Kafka security
settings, a topic name) and runs the real `superhero load` against the real test stack: it
must exit with status 2 and print exactly one `error:` line on stderr that names the
variable or path to check, with no traceback and no secret.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
import uuid
from contextlib import closing, suppress

import dagster as dg
import pytest
from confluent_kafka.admin import AdminClient

from superhero_assets.assets import ELT_ASSETS
from superhero_assets.resources import (
    BatchLoaderResource,
    KafkaResource,
    OutputResource,
    RedisStateResource,
)
from superhero_tools.chaos.faults import fill_disk
from tests.support.secrets import SECRETS, leaks
from tests.support.stack import superhero

pytestmark = pytest.mark.integration


def load(elt, *args: str, topics: bool = True, **env: str) -> subprocess.CompletedProcess:
    """`superhero load` on elt's topics (unless topics=False), with env over the stack's."""
    base = {
        "OUTPUT_FS": str(elt.output),
        "KAFKA_BOOTSTRAP_SERVERS": elt.stack.kafka_bootstrap_servers,
        "REDIS_HOST": elt.stack.redis_host,
        "REDIS_PORT": str(elt.stack.redis_port),
        "ELT_LOCK_TTL_S": "30",
    }
    topic_args = ("--topics", ",".join(elt.topics)) if topics else ()
    return superhero("load", *topic_args, *args, env={**base, **env}, timeout=120)


def the_error_line(result: subprocess.CompletedProcess, *mentions: str) -> str:
    """The one `error:` line of a failed run, after checking it is all the run printed."""
    output = f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode == 2, output
    assert "Traceback" not in result.stderr, output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    for mention in mentions:
        assert mention in lines[0], output
    assert leaks(result.stdout + result.stderr) == []
    return lines[0]


# The output: a full disk, a read-only one, and a path no folder can be made under


@pytest.fixture
def small_disk(tmp_path):
    """A fresh 8 MiB tmpfs: a real file system the test can fill or make read-only."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (the disk-full and read-only cases)")
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        for _ in range(50):  # "busy" for a moment if a child still has a file open
            if subprocess.run(["umount", str(mountpoint)], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        else:
            subprocess.run(["umount", "-l", str(mountpoint)], check=True)


def test_a_full_disk(elt, small_disk):
    output = small_disk / "out"
    output.mkdir()
    fill_disk(small_disk / "ballast")
    line = the_error_line(load(elt, OUTPUT_FS=str(output)), f"OUTPUT_FS {output}", "full")
    assert "Free some space" in line


def test_a_read_only_output(elt, small_disk):
    output = small_disk / "out"
    output.mkdir()
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    line = the_error_line(load(elt, OUTPUT_FS=str(output)), f"OUTPUT_FS {output}", "read-only")
    assert "writable folder" in line


def test_an_output_fs_no_folder_can_be_made_under(elt):
    line = the_error_line(load(elt, OUTPUT_FS="/proc/x"), "OUTPUT_FS /proc/x")
    assert "writable folder" in line


# Redis: something else answers on its port


@pytest.fixture
def garbage_server():
    """A TCP server on a free port that answers every connection with a line of nonsense."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with closing(conn):
                conn.sendall(b"hello, this is not a database\r\n")
                conn.settimeout(2)
                with suppress(OSError):  # read the command, so closing resets nothing
                    conn.recv(4096)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(5)
    listener.close()


@pytest.mark.parametrize("service", ["kafka", "garbage"])
def test_a_service_that_is_not_redis_on_the_redis_port(elt, service, request):
    port = elt.stack.kafka_port if service == "kafka" else request.getfixturevalue("garbage_server")
    line = the_error_line(load(elt, REDIS_PORT=str(port)), f"127.0.0.1:{port}", "REDIS_PORT")
    assert "not Redis" in line


# Kafka: SASL against a plaintext listener, and a topic that does not exist


def test_sasl_against_a_plaintext_broker_names_the_security_protocol(elt):
    result = load(
        elt,
        KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT",
        KAFKA_SASL_MECHANISM="PLAIN",
        KAFKA_SASL_USERNAME=SECRETS["KAFKA_SASL_USERNAME"],
        KAFKA_SASL_PASSWORD=SECRETS["KAFKA_SASL_PASSWORD"],
    )
    line = the_error_line(result, "KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_MECHANISM")
    assert "KAFKA_BOOTSTRAP_SERVERS" not in line  # the address was right


@pytest.mark.parametrize("named_by", ["--topics", "SUPERHERO_TOPICS"])
def test_a_topic_that_does_not_exist_is_refused_not_created(elt, named_by):
    topic = f"nosuch-{uuid.uuid4().hex[:8]}"
    if named_by == "--topics":
        result = load(elt, "--topics", topic, topics=False)
    else:
        result = load(elt, topics=False, SUPERHERO_TOPICS=topic)
    the_error_line(result, repr(topic), "SUPERHERO_TOPICS", "--create")
    admin = AdminClient({"bootstrap.servers": elt.stack.kafka_bootstrap_servers})
    assert topic not in admin.list_topics(timeout=10).topics


# The same messages through Dagster: the loader's own exceptions carry them


@pytest.mark.parametrize("broken", ["output", "topic"])
def test_dagster_fails_with_the_same_message(elt, broken):
    topic = f"nosuch-{uuid.uuid4().hex[:8]}"
    loader = BatchLoaderResource(
        kafka=KafkaResource(bootstrap_servers=elt.stack.kafka_bootstrap_servers),
        redis_state=RedisStateResource(host=elt.stack.redis_host, port=elt.stack.redis_port),
        output=OutputResource(output_fs="/proc/x" if broken == "output" else str(elt.output)),
        source_topics=list(elt.topics) if broken == "output" else [topic],
    )
    result = dg.materialize(
        ELT_ASSETS,
        resources={"loader": loader},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = result.get_step_failure_events()
    cause = failure.step_failure_data.error.cause  # the loader's exception, as raised
    expected = "OUTPUT_FS /proc/x" if broken == "output" else f"topic {topic!r} does not exist"
    assert cause is not None and expected in cause.message, failure.step_failure_data.error


# SUPERHERO_TOPICS, which Dagster honours, is `superhero load`'s default too


def test_load_honours_superhero_topics(elt):
    expected = elt.produce_matches(4)
    result = load(elt, topics=False, SUPERHERO_TOPICS=elt.game)
    assert result.returncode == 0, result.stderr
    assert elt.table("lib_server_game").num_rows == expected["game"]
    assert set(elt.table("buffer_meta")["topic"].to_pylist()) == {elt.game}
    assert elt.table("lib_server_lobby").num_rows == 0  # lobby messages wait in Kafka
