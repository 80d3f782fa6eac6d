"""Prerequisites for the local Kafka: Java 17+ and the broker's jars from Maven Central."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from superhero_tools.stack import StackError

MIN_JAVA = 17
POM = Path(__file__).with_name("pom.xml")
_JAVA_HINT = (
    "Kafka 4 needs Java 17 or newer. Install it (Debian/Ubuntu: "
    "`apt-get install openjdk-17-jre-headless`; macOS: `brew install openjdk@17`) "
    "or point JAVA_HOME at one."
)


def java_binary() -> str:
    """The java to run Kafka with: $JAVA_HOME/bin/java if set, else the one on PATH."""
    home = os.environ.get("JAVA_HOME", "").strip()
    if home:
        candidate = Path(home) / "bin" / "java"
        if candidate.exists():
            return str(candidate)
        raise StackError(f"JAVA_HOME={home} has no bin/java. {_JAVA_HINT}")
    found = shutil.which("java")
    if not found:
        raise StackError(f"Java was not found on PATH. {_JAVA_HINT}")
    return found


def java_major_version(java: str) -> int:
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except OSError as exc:
        raise StackError(f"Could not run {java}: {exc}. {_JAVA_HINT}") from exc
    return parse_java_major(out.stderr + out.stdout)


def parse_java_major(version_text: str) -> int:
    """'openjdk version "17.0.15"' -> 17; 'java version "1.8.0_392"' -> 8."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_text)
    if not match:
        raise StackError(f"Could not read a Java version from: {version_text.strip()[:200]!r}")
    major = int(match.group(1))
    if major == 1 and match.group(2):
        major = int(match.group(2))
    return major


def check_java() -> str:
    java = java_binary()
    major = java_major_version(java)
    if major < MIN_JAVA:
        raise StackError(f"{java} is Java {major}, too old. {_JAVA_HINT}")
    return java


def resolve_kafka_jars(jars_dir: Path, kafka_version: str) -> Path:
    """Copy kafka_2.13 and its runtime dependencies into jars_dir, once, with Maven."""
    marker = jars_dir / ".complete"
    if marker.exists():
        return jars_dir
    mvn = shutil.which("mvn")
    if not mvn:
        raise StackError(
            "Maven (`mvn`) is needed once to download Kafka's jars from Maven Central. "
            "Install it (Debian/Ubuntu: `apt-get install maven`; macOS: `brew install maven`)."
        )
    jars_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{jars_dir.name}-", dir=jars_dir.parent))
    cmd = [
        mvn,
        "-B",
        "-q",
        "-f",
        str(POM),
        "dependency:copy-dependencies",
        f"-Dkafka.version={kafka_version}",
        f"-DoutputDirectory={staging}",
        "-DincludeScope=runtime",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
        shutil.rmtree(staging, ignore_errors=True)
        detail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise StackError(
            f"Maven could not resolve org.apache.kafka:kafka_2.13:{kafka_version}.\n{detail}\n"
            "Check that Maven reaches Maven Central (proxy settings in ~/.m2/settings.xml) "
            "and that SUPERHERO_KAFKA_VERSION names a released Kafka 4.x version."
        )
    (staging / ".complete").write_text(kafka_version + "\n")
    shutil.rmtree(jars_dir, ignore_errors=True)
    staging.rename(jars_dir)
    return jars_dir
