"""`superhero stack up | down | status`: start, reuse, probe and stop the local services."""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from superhero_assets.core.contract import PROBE_TOPIC, TOPIC_PARTITIONS
from superhero_tools.settings import Settings
from superhero_tools.stack import StackError, emulators, kafka, procs, redis_server
from superhero_tools.stack.topics import ensure_topics

SERVICES = ("redis", "kafka")


@dataclass(frozen=True)
class ServiceStatus:
    service: str
    address: str
    pid: int | None
    healthy: bool
    owner: str  # "stack" (we started it), "external" (it was already there) or "-"

    def line(self) -> str:
        state = "healthy" if self.healthy else "unreachable"
        pid = str(self.pid) if self.pid else "-"
        return f"{self.service:<6} {self.address:<22} pid={pid:<8} {state:<12} ({self.owner})"


def kafka_node(service: str) -> int | None:
    """1 for `kafka`, K for `kafka-K`; None for a service that is not a Kafka node."""
    if service == "kafka":
        return 1
    prefix, _, number = service.partition("-")
    return int(number) if prefix == "kafka" and number.isdigit() else None


def expand(settings: Settings, services: tuple[str, ...]) -> tuple[str, ...]:
    """`kafka` as the services of each of its nodes."""
    nodes = tuple(kafka.node_service(n) for n in settings.kafka_nodes)
    return tuple(s for service in services for s in (nodes if service == "kafka" else (service,)))


def _address(settings: Settings, service: str) -> str:
    if service in emulators.EMULATORS:
        return emulators.EmulatorSettings.from_env().address(service)
    node = kafka_node(service)
    if node is not None:
        if settings.kafka_brokers == 1:
            return settings.kafka_bootstrap_servers
        return settings.kafka_node_address(node)
    return f"{settings.redis_host}:{settings.redis_port}"


def _answers(settings: Settings, service: str) -> bool:
    if service in emulators.EMULATORS:
        return emulators.answers(service, emulators.EmulatorSettings.from_env())
    node = kafka_node(service)
    if node is not None:
        return kafka.answers_as_kafka(settings, node=None if settings.kafka_brokers == 1 else node)
    return redis_server.answers_ping(settings)


@contextlib.contextmanager
def _stack_lock(settings: Settings) -> Iterator[None]:
    """Serialise `up`/`down` on one state folder, so two callers never start two brokers."""
    run = procs.run_dir(settings.state_dir)
    run.mkdir(parents=True, exist_ok=True)
    with open(run / "stack.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def _check_port_free(host: str, port: int, service: str, variable: str) -> None:
    if procs.port_is_open(host, port):
        raise StackError(
            f"{host}:{port} is in use by something that is not {service}. Stop that program, "
            f"or set {variable} to a free port."
        )


def _start(settings: Settings, service: str) -> procs.ProcessRecord:
    if service in emulators.EMULATORS:
        return emulators.start(service, settings, emulators.EmulatorSettings.from_env())
    node = kafka_node(service)
    if node is not None:
        port, controller = settings.kafka_node_ports(node)
        what = "Kafka" if service == "kafka" else f"Kafka node {node}"
        _check_port_free(settings.kafka_host, port, what, "KAFKA_BOOTSTRAP_SERVERS")
        _check_port_free(
            settings.kafka_host, controller, f"{what}'s controller", "KAFKA_CONTROLLER_PORT"
        )
        return kafka.start(settings, node)
    _check_port_free(settings.redis_host, settings.redis_port, "Redis", "REDIS_PORT")
    return redis_server.start(settings)


def _wait_until(
    ready: Callable[[], bool],
    record: procs.ProcessRecord | None,
    service: str,
    deadline: float,
    others: tuple[procs.ProcessRecord, ...] = (),
) -> None:
    """Until ready(); a death of record, or of any of others (a cluster's other nodes), ends
    the wait at once, naming the process that died."""
    while time.monotonic() < deadline:
        for watched in (record, *others):
            if watched is not None and not watched.is_running():
                raise StackError(
                    f"{watched.service} exited during start-up. Its last log lines "
                    f"({watched.log_file}):\n{procs.tail(watched.log_file)}"
                )
        with contextlib.suppress(Exception):
            # A probe that only succeeds after the deadline still counts as a timeout.
            if ready() and time.monotonic() < deadline:
                return
        time.sleep(0.5)
    where = (
        f" Its last log lines ({record.log_file}):\n{procs.tail(record.log_file)}" if record else ""
    )
    raise StackError(
        f"{service} was not usable within the start-up timeout (SUPERHERO_STACK_TIMEOUT).{where}"
    )


def _kafka_usable(settings: Settings) -> bool:
    """Usable means every node is a live broker and a message produced with acks=all is
    consumed back, not an open port."""
    if not kafka.answers_as_kafka(settings):
        return False
    if len(kafka.brokers_in_metadata(settings)) < settings.kafka_brokers:
        return False
    ensure_topics(
        settings.kafka_cluster_bootstrap,
        {PROBE_TOPIC: 1},
        replication=kafka.replication(settings.kafka_brokers)[0],
    )
    kafka.round_trip(settings)
    return True


def up(
    settings: Settings,
    services: tuple[str, ...] = SERVICES,
    echo: Callable[[str], None] = print,
    with_emulators: tuple[str, ...] = (),
) -> list[ServiceStatus]:
    """Start whatever is not already answering, wait until each service is usable, set up topics.

    with_emulators adds local object stores (s3, gcs, azure), each usable once its test
    bucket takes a real put and get.
    """
    started: list[procs.ProcessRecord] = []
    asked = (*services, *with_emulators)
    services = (*expand(settings, services), *with_emulators)
    with _stack_lock(settings):
        try:
            records: dict[str, procs.ProcessRecord | None] = {}
            for service in services:
                record = procs.read_record(settings.state_dir, service)
                if record and record.is_running():
                    records[service] = record
                elif _answers(settings, service):
                    echo(f"{service}: already answering at {_address(settings, service)}; using it")
                    records[service] = None
                else:
                    t0 = time.monotonic()
                    record = _start(settings, service)
                    echo(f"{service}: started pid {record.pid} in {time.monotonic() - t0:.1f}s")
                    records[service] = record
                    started.append(record)
            deadline = time.monotonic() + settings.startup_timeout_s
            if "redis" in services:
                _wait_until(
                    lambda: redis_server.answers_ping(settings), records["redis"], "redis", deadline
                )
            nodes = [s for s in services if kafka_node(s) is not None]
            if nodes:
                others = tuple(r for n in nodes[1:] if (r := records[n]) is not None)
                _wait_until(
                    lambda: _kafka_usable(settings), records[nodes[0]], nodes[0], deadline, others
                )
                ensure_topics(
                    settings.kafka_cluster_bootstrap,
                    TOPIC_PARTITIONS,
                    replication=kafka.replication(settings.kafka_brokers)[0],
                )
            es = emulators.EmulatorSettings.from_env()
            for service in with_emulators:
                _wait_until(
                    lambda s=service: emulators.usable(s, es), records[service], service, deadline
                )
        except BaseException:
            procs.stop_together(started, grace_s=10)  # a cluster's nodes stop together
            for record in started:
                procs.forget(settings.state_dir, record.service)
            raise
    return status(settings, asked)


def down(settings: Settings, purge: bool = False, echo: Callable[[str], None] = print) -> None:
    """Stop only the processes `up` started (by PID file); with purge, delete the state folder."""
    if not settings.state_dir.exists():
        echo(f"nothing to stop: {settings.state_dir} does not exist")
        return
    with _stack_lock(settings):
        # Kafka first, so it does not log Redis-independent noise while Redis stops; every
        # node a PID record names, whatever --brokers says now, all at once.
        recorded = [p.name.removesuffix(".pid.json") for p in procs.records(settings.state_dir)]
        nodes = tuple(sorted((s for s in recorded if kafka_node(s)), key=kafka_node))
        for group in (*((e,) for e in reversed(emulators.EMULATORS)), nodes, ("redis",)):
            found = [(s, procs.read_record(settings.state_dir, s)) for s in group]
            found = [(s, r) for s, r in found if r is not None]
            running = [(s, r) for s, r in found if r.is_running()]
            procs.stop_together([r for _, r in running])
            for service, record in running:
                echo(f"{service}: stopped pid {record.pid}")
            for service, _ in found:
                procs.forget(settings.state_dir, service)
    if purge:
        shutil.rmtree(settings.state_dir, ignore_errors=True)
        echo(f"removed {settings.state_dir}")


def status(settings: Settings, services: tuple[str, ...] = SERVICES) -> list[ServiceStatus]:
    result = []
    for service in expand(settings, services):
        record = procs.read_record(settings.state_dir, service)
        running = record is not None and record.is_running()
        healthy = _answers(settings, service)
        owner = "stack" if running else ("external" if healthy else "-")
        result.append(
            ServiceStatus(
                service,
                _address(settings, service),
                record.pid if running and record else None,
                healthy,
                owner,
            )
        )
    return result
