"""The compose file for Docker users stays in step with the stack's contract (no engine needed)."""

import re
from pathlib import Path

import yaml

from superhero_assets.core.contract import TOPIC_PARTITIONS
from superhero_assets.core.settings import DEFAULT_KAFKA_VERSION

COMPOSE = Path(__file__).parents[1] / "compose" / "docker-compose.local.yml"


def test_local_compose_has_kafka_redis_and_the_topics():
    spec = yaml.safe_load(COMPOSE.read_text())
    services = spec["services"]
    assert {"kafka", "redis", "kafka-setup"} <= set(services)
    assert services["kafka"]["image"] == f"apache/kafka:{DEFAULT_KAFKA_VERSION}"
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    # Published on loopback only.
    for name in ("kafka", "redis"):
        assert all(port.startswith("127.0.0.1:") for port in services[name]["ports"])
    script = services["kafka-setup"]["command"][0]
    assert dict(re.findall(r"([\w.]+):(\d)", script.split("\n")[1])) == {
        name: str(n) for name, n in TOPIC_PARTITIONS.items()
    }
