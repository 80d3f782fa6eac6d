"""Clear messages when Java or Maven cannot do their part."""

import os
import stat
from pathlib import Path

import pytest

from superhero_tools.stack import StackError
from superhero_tools.stack.prereqs import check_java, parse_java_major, resolve_kafka_jars


@pytest.mark.parametrize(
    ("text", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('openjdk version "21" 2023-09-19', 21),
        ('java version "1.8.0_392"', 8),
        ('openjdk version "11.0.22" 2024-01-16', 11),
    ],
)
def test_java_versions_are_read(text, major):
    assert parse_java_major(text) == major


def test_missing_java_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(StackError, match="Java was not found on PATH.*openjdk-17"):
        check_java()


def test_old_java_is_refused(monkeypatch, tmp_path):
    # A stand-in `java` that reports version 11: the check itself is what is under test.
    java = tmp_path / "bin" / "java"
    java.parent.mkdir()
    java.write_text("#!/bin/sh\necho 'openjdk version \"11.0.22\" 2024-01-16' >&2\n")
    java.chmod(java.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(StackError, match="Java 11, too old"):
        check_java()


def test_the_machine_java_is_accepted():
    assert os.path.exists(check_java())


def test_maven_failure_names_the_artifact_and_leaves_no_cache(tmp_path):
    jars = tmp_path / "kafka-0.0.0-missing"
    with pytest.raises(StackError, match=r"Maven could not resolve .*kafka_2\.13:0\.0\.0-missing"):
        resolve_kafka_jars(jars, "0.0.0-missing")
    assert not jars.exists()
    assert list(Path(tmp_path).iterdir()) == []


def test_cluster_ids_never_look_like_an_option():
    from superhero_tools.stack.kafka import cluster_id

    ids = [cluster_id() for _ in range(2000)]  # a leading '-' would come up ~30 times
    assert not any(i.startswith("-") for i in ids)
    assert all(len(i) == 22 for i in ids) and len(set(ids)) == len(ids)
