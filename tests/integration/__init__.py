"""Integration tests: real Kafka, Redis and object stores started by `superhero stack up`."""
