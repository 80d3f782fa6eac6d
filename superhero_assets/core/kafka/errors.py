"""What a failed Kafka request means for the loader's settings: the variable to check.

librdkafka retries a refused connection on its own, so a request only says that it timed
out; the reason (a refused SASL handshake, a TLS or protocol mismatch) arrives on the
client's error callback. Both are read here. Secrets are scrubbed out of every message.
"""

from __future__ import annotations

from collections.abc import Iterable

from confluent_kafka import KafkaError, KafkaException

from superhero_assets.core.store.errors import scrub

SASL_VARIABLES = "KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
START_STACK = "or start the local stack with `superhero stack up`"


def is_refusal(client_errors: Iterable[KafkaError]) -> bool:
    """The broker refused this client's security settings: waiting longer will not help."""
    return any(e.code() in (KafkaError._AUTHENTICATION, KafkaError._SSL) for e in client_errors)


def explain(
    failed: str, exc: BaseException, settings: dict, client_errors: Iterable[KafkaError] = ()
) -> str:
    """Why Kafka `failed` (e.g. "did not answer a metadata request for t"), what to check."""
    servers = settings.get("bootstrap.servers", "localhost:9092")
    protocol = str(settings.get("security.protocol", "PLAINTEXT")).upper()
    secrets = [str(settings.get(k) or "") for k in ("sasl.username", "sasl.password")]
    seen = list(client_errors)
    by_code = {e.code(): e for e in seen}

    def detail(error: object) -> str:
        if isinstance(error, KafkaException) and error.args:
            error = error.args[0]  # its KafkaError: the text without the code's repr
        text = error.str() if isinstance(error, KafkaError) else str(error)
        return scrub(" ".join(text.split()), secrets)[:300]

    if KafkaError._AUTHENTICATION in by_code:
        return (
            f"Kafka at {servers} refused the {protocol} authentication "
            f"({detail(by_code[KafkaError._AUTHENTICATION])}). Check KAFKA_SECURITY_PROTOCOL: "
            "it must match the broker's listener (PLAINTEXT, SSL, SASL_PLAINTEXT or "
            f"SASL_SSL); with SASL, check {SASL_VARIABLES}."
        )
    if KafkaError._SSL in by_code:
        return (
            f"Kafka at {servers}: the TLS handshake failed ({detail(by_code[KafkaError._SSL])}). "
            "Check KAFKA_SECURITY_PROTOCOL (SSL or SASL_SSL only against a TLS listener) and "
            "KAFKA_SSL_CA_LOCATION."
        )
    mismatch = next((e for e in seen if "security.protocol" in e.str()), None)
    if mismatch is not None:  # librdkafka's own guess: a listener of another protocol
        return (
            f"Kafka at {servers} dropped the connection ({detail(mismatch)}). Check "
            f"KAFKA_SECURITY_PROTOCOL ({protocol} now): it must match the broker's listener; "
            "and that KAFKA_BOOTSTRAP_SERVERS names a Kafka broker."
        )
    if protocol != "PLAINTEXT":
        return (
            f"Kafka at {servers} {failed} with security protocol {protocol} "
            f"({detail(exc)}). Check KAFKA_BOOTSTRAP_SERVERS and KAFKA_SECURITY_PROTOCOL "
            f"(and {SASL_VARIABLES}), {START_STACK}."
        )
    return (
        f"Kafka at {servers} {failed} ({detail(exc)}). Check "
        f"KAFKA_BOOTSTRAP_SERVERS, {START_STACK}."
    )


def missing_topic(topic: str, settings: dict) -> str:
    servers = settings.get("bootstrap.servers", "localhost:9092")
    return (
        f"topic {topic!r} does not exist on Kafka at {servers}. Check the topic names "
        "(`superhero load --topics`, or SUPERHERO_TOPICS) for a typo, or create it: "
        f"kafka-topics.sh --bootstrap-server {servers} --create --topic {topic} "
        "(`superhero stack up` creates lib.server.lobby and lib.server.game)."
    )
