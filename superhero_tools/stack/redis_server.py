"""Debian's redis-server on loopback, without persistence unless REDIS_PERSISTENCE asks for it."""

from __future__ import annotations

import os
import shutil
import subprocess

import redis

from superhero_tools.settings import Settings
from superhero_tools.stack import StackError, procs


def client(settings: Settings, timeout_s: float = 2.0) -> redis.Redis:
    return redis.Redis(
        host=settings.redis_host,
        port=settings.redis_port,
        password=settings.redis_password or None,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
    )


def answers_ping(settings: Settings) -> bool:
    try:
        return bool(client(settings).ping())
    except redis.RedisError:
        return False


def redis_binary() -> str:
    """redis-server on PATH; as root on Debian/Ubuntu, install it with apt-get first."""
    found = shutil.which("redis-server")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for cmd in (
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "redis-server"],
        ):
            result = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if result.returncode != 0:
                raise StackError(f"`{' '.join(cmd)}` failed:\n{result.stderr[-1500:]}")
        found = shutil.which("redis-server")
        if found:
            return found
    raise StackError(
        "redis-server was not found. Install it (Debian/Ubuntu: `sudo apt-get install "
        "redis-server`; macOS: `brew install redis`), or point REDIS_HOST/REDIS_PORT at a "
        "running Redis."
    )


def config_text(settings: Settings) -> str:
    home = settings.state_dir / "redis"
    lines = [
        "# Written by `superhero stack up`; edits are overwritten on the next start.",
        f"bind {settings.redis_host}",
        f"port {settings.redis_port}",
        "daemonize no",
        f"dir {home}",
        "protected-mode yes",
    ]
    if settings.redis_persistence == "off":
        lines += ['save ""', "appendonly no"]
    elif settings.redis_persistence == "rdb":
        lines += ["save 60 1", "appendonly no"]
    else:
        lines += ['save ""', "appendonly yes", "appendfsync everysec"]
    if settings.redis_password:
        lines.append(f"requirepass {settings.redis_password}")
    return "\n".join(lines) + "\n"


def start(settings: Settings) -> procs.ProcessRecord:
    binary = redis_binary()
    home = settings.state_dir / "redis"
    home.mkdir(parents=True, exist_ok=True)
    conf = home / "redis.conf"
    # The config may hold the password, so it is readable by its owner only.
    fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(config_text(settings))
    address = f"{settings.redis_host}:{settings.redis_port}"
    return procs.spawn(settings.state_dir, "redis", [binary, str(conf)], address)
