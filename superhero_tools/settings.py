"""Where every service lives, read from the environment with the documented defaults.

The stack starts its services at exactly these addresses, so a second stack (a test
run, another user) only needs other values for the same variables.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_KAFKA_VERSION = "4.1.2"
# Node i of a local cluster listens on the first node's ports plus this step times (i - 1).
NODE_PORT_STEP = 2
MAX_KAFKA_BROKERS = 9


def _split_host_port(address: str, default_port: int) -> tuple[str, int]:
    host, _, port = address.strip().rpartition(":")
    if not host:
        return address.strip() or "127.0.0.1", default_port
    if not port.isdigit():
        raise ValueError(f"expected host:port, got {address!r}")
    return host, int(port)


def int_env(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None


@dataclass(frozen=True)
class Settings:
    """Addresses, folders and versions for the local stack."""

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_controller_port: int = 9093
    kafka_version: str = DEFAULT_KAFKA_VERSION
    kafka_heap_opts: str = "-Xms256m -Xmx1g"
    kafka_brokers: int = 1
    redis_host: str = "127.0.0.1"
    redis_port: int = 6379
    redis_password: str = field(default="", repr=False)
    redis_persistence: str = "off"
    state_dir: Path = Path(".superhero")
    cache_dir: Path = Path.home() / ".cache" / "superhero"
    startup_timeout_s: int = 120

    @property
    def kafka_host(self) -> str:
        return _split_host_port(self.kafka_bootstrap_servers.split(",")[0], 9092)[0]

    @property
    def kafka_port(self) -> int:
        return _split_host_port(self.kafka_bootstrap_servers.split(",")[0], 9092)[1]

    def kafka_node_ports(self, node: int) -> tuple[int, int]:
        """Node's (broker, controller) ports: node 1 has the configured ones, the next
        nodes the ones after them, two by two."""
        step = NODE_PORT_STEP * (node - 1)
        return self.kafka_port + step, self.kafka_controller_port + step

    def kafka_node_address(self, node: int) -> str:
        return f"{self.kafka_host}:{self.kafka_node_ports(node)[0]}"

    @property
    def kafka_nodes(self) -> range:
        return range(1, self.kafka_brokers + 1)

    @property
    def kafka_cluster_bootstrap(self) -> str:
        """Every node's address: what a client should be given, so it can start while
        any one node is down. One broker: the configured address, as given."""
        if self.kafka_brokers == 1:
            return self.kafka_bootstrap_servers
        return ",".join(self.kafka_node_address(n) for n in self.kafka_nodes)

    @property
    def kafka_jars_dir(self) -> Path:
        return self.cache_dir / f"kafka-{self.kafka_version}"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        bootstrap = env.get("KAFKA_BOOTSTRAP_SERVERS", "").strip() or cls.kafka_bootstrap_servers
        kafka_port = _split_host_port(bootstrap.split(",")[0], 9092)[1]
        persistence = env.get("REDIS_PERSISTENCE", "off").strip().lower() or "off"
        if persistence not in {"off", "rdb", "aof"}:
            raise ValueError(f"REDIS_PERSISTENCE must be off, rdb or aof, got {persistence!r}")
        cache_default = Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "superhero"
        brokers = int_env(env, "SUPERHERO_KAFKA_BROKERS", 1)
        if not 1 <= brokers <= MAX_KAFKA_BROKERS:
            raise ValueError(
                f"SUPERHERO_KAFKA_BROKERS must be 1 to {MAX_KAFKA_BROKERS}, got {brokers}"
            )
        controller = int_env(env, "KAFKA_CONTROLLER_PORT", kafka_port + 1)
        clash = (controller - kafka_port) % NODE_PORT_STEP == 0 and abs(
            controller - kafka_port
        ) < NODE_PORT_STEP * brokers
        if brokers > 1 and clash:
            raise ValueError(
                f"KAFKA_CONTROLLER_PORT {controller} falls on a broker port of the "
                f"{brokers} nodes ({kafka_port}, {kafka_port + NODE_PORT_STEP}, ...): "
                f"use an odd offset from the broker port, e.g. {kafka_port + 1}"
            )
        return cls(
            kafka_bootstrap_servers=bootstrap,
            kafka_controller_port=controller,
            kafka_version=env.get("SUPERHERO_KAFKA_VERSION", "").strip() or DEFAULT_KAFKA_VERSION,
            kafka_heap_opts=env.get("KAFKA_HEAP_OPTS", "").strip() or cls.kafka_heap_opts,
            kafka_brokers=brokers,
            redis_host=env.get("REDIS_HOST", "").strip() or cls.redis_host,
            redis_port=int_env(env, "REDIS_PORT", cls.redis_port),
            redis_password=env.get("REDIS_PASSWORD", ""),
            redis_persistence=persistence,
            state_dir=Path(env.get("SUPERHERO_STATE_DIR", "").strip() or ".superhero").absolute(),
            cache_dir=Path(env.get("SUPERHERO_CACHE_DIR", "").strip() or cache_default),
            startup_timeout_s=int_env(env, "SUPERHERO_STACK_TIMEOUT", cls.startup_timeout_s),
        )
