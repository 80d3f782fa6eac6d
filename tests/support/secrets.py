"""Sentinel secrets the tests set, and a search for them in any text."""

SECRETS = {
    "REDIS_PASSWORD": "redis-pw-SECRET-0001",
    "KAFKA_SASL_USERNAME": "kafka-user-SECRET-0002",
    "KAFKA_SASL_PASSWORD": "kafka-pw-SECRET-0003",
    "AWS_SECRET_ACCESS_KEY": "aws-key-SECRET-0004",
    "AZURE_ACCOUNT_KEY": "azure-key-SECRET-0005",
    "AZURE_CLIENT_SECRET": "azure-sp-SECRET-0006",
}


def leaks(text: str | bytes) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return [name for name, secret in SECRETS.items() if secret.encode() in data]
