"""The two game loggers, `{LOGGER_MODULE}.lib.server.lobby` and `{LOGGER_MODULE}.lib.server.game`.

With LOGGER_MODULE=kafka their records go to Kafka; with Default they are printed to stdout.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass

from superhero_tools.simulator import wire
from superhero_tools.simulator.config import SimulatorConfig
from superhero_tools.simulator.kafka_log import GameRecordFormatter, KafkaLogHandler, KafkaSink


@dataclass
class GameLoggers:
    lobby: logging.Logger
    game: logging.Logger
    handler: logging.Handler

    def close(self) -> None:
        """Flush and detach; with Kafka this raises if a record was not acknowledged."""
        for logger in (self.lobby, self.game):
            logger.removeHandler(self.handler)
        self.handler.close()


def open_game_loggers(config: SimulatorConfig, bootstrap_servers: str) -> GameLoggers:
    if config.logger_module == "kafka":
        sink = KafkaSink(bootstrap_servers, (wire.LOBBY_TOPIC, wire.GAME_TOPIC))
        handler: logging.Handler = KafkaLogHandler(sink)
    else:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(GameRecordFormatter())
    loggers = []
    for topic in (wire.LOBBY_TOPIC, wire.GAME_TOPIC):
        logger = logging.getLogger(f"{config.logger_module}.{topic}")
        logger.setLevel(config.log_level_number)
        logger.propagate = False  # the root logger's handlers must not print them twice
        logger.addHandler(handler)
        loggers.append(logger)
    return GameLoggers(loggers[0], loggers[1], handler)
