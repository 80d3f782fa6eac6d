"""The Kafka cluster the game logs to."""

import dagster as dg
from pydantic import Field


class KafkaResource(dg.ConfigurableResource):
    """Kafka connection settings; defaults match `superhero stack up`."""

    bootstrap_servers: str = Field(
        default="127.0.0.1:9092", description="KAFKA_BOOTSTRAP_SERVERS of the game's Kafka."
    )

    def client_config(self) -> dict[str, object]:
        return {"bootstrap.servers": self.bootstrap_servers}
