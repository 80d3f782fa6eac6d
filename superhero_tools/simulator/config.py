"""The simulator's environment variables, read once, with the documented defaults."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

LOGGER_MODULES = ("kafka", "Default")


@dataclass(frozen=True)
class SimulatorConfig:
    """Where the server listens, where its logs go and how long a lobby waits."""

    # The original default: print only; LOGGER_MODULE=kafka ships the records to Kafka.
    logger_module: str = "Default"
    log_level: str = "INFO"
    lobby_timeout_s: float = 5.0
    server_host: str = "127.0.0.1"
    server_port: int = 5678

    @property
    def log_level_number(self) -> int:
        return logging.getLevelName(self.log_level)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> SimulatorConfig:
        env = dict(os.environ if env is None else env)
        module = env.get("LOGGER_MODULE", "").strip() or cls.logger_module
        if module not in LOGGER_MODULES:
            raise ValueError(f"LOGGER_MODULE must be one of {LOGGER_MODULES}, got {module!r}")
        level = env.get("LOG_LEVEL", "").strip().upper() or cls.log_level
        if not isinstance(logging.getLevelName(level), int):
            raise ValueError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {level!r}")
        return cls(
            logger_module=module,
            log_level=level,
            lobby_timeout_s=_number(env, "LOBBY_TIMEOUT", cls.lobby_timeout_s, float),
            server_host=env.get("SERVER_HOST", "").strip() or cls.server_host,
            server_port=_number(env, "SERVER_PORT", cls.server_port, int),
        )


def _number(env: dict[str, str], name: str, default, kind):
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(f"{name} must be a {kind.__name__} number, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be above 0, got {raw!r}")
    return value
