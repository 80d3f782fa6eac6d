"""Parsing: raw Kafka messages to the typed tables and quarantine, with the native bridge."""
