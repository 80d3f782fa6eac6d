"""The Kafka cluster the game logs to."""

from typing import Any

import dagster as dg
from pydantic import Field

from superhero_assets.core.settings import KafkaSettings, settings_of


class KafkaResource(dg.ConfigurableResource):
    """Kafka connection: bootstrap servers plus any librdkafka setting, security included."""

    bootstrap_servers: str = Field(
        default="localhost:9092", description="KAFKA_BOOTSTRAP_SERVERS of the game's Kafka."
    )
    security_protocol: str = Field(
        default="PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."
    )
    sasl_mechanism: str | None = Field(default=None, description="For example SCRAM-SHA-512.")
    sasl_username: str | None = Field(
        default=None, description="KAFKA_SASL_USERNAME, via dg.EnvVar.", repr=False
    )
    sasl_password: str | None = Field(
        default=None, description="KAFKA_SASL_PASSWORD, via dg.EnvVar.", repr=False
    )
    ssl_ca_location: str | None = Field(default=None, description="CA bundle for SSL.")
    extra_config: dict[str, str] = Field(
        default_factory=dict, description="Any other librdkafka setting, passed as is."
    )

    def client_config(self) -> dict[str, Any]:
        return settings_of(self, KafkaSettings).client_config()
