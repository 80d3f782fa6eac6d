"""The native Kafka reader is tied to the librdkafka whose structs it declares."""

import logging

import pytest

from superhero_assets.core import consume, kafka_native, native
from superhero_assets.core.client_source import ClientSource


@pytest.fixture
def fresh_judgement():
    kafka_native.librdkafka_checked.cache_clear()
    yield
    kafka_native.librdkafka_checked.cache_clear()


def test_the_pinned_confluent_kafka_loads_a_checked_librdkafka(fresh_judgement):
    assert kafka_native.loaded_librdkafka() in kafka_native.CHECKED_LIBRDKAFKA
    assert kafka_native.librdkafka_checked()


def test_an_unchecked_librdkafka_reads_with_confluent_kafka_and_says_so(
    fresh_judgement, monkeypatch, caplog
):
    monkeypatch.setattr(kafka_native, "loaded_librdkafka", lambda: "9.9.9")
    with caplog.at_level(logging.WARNING):
        assert not kafka_native.enabled()
        source = consume.make_source({"bootstrap.servers": "127.0.0.1:9"})
    try:
        assert isinstance(source, ClientSource)
    finally:
        source.close()
    assert "loaded 9.9.9: reading with confluent-kafka's consumer" in caplog.text
    assert caplog.text.count("9.9.9") == 1  # said once, not at every run


@pytest.mark.skipif(not native.available(), reason="the native module is not built")
def test_a_checked_librdkafka_reads_natively(fresh_judgement):
    source = consume.make_source({"bootstrap.servers": "127.0.0.1:9"})
    try:
        assert isinstance(source, kafka_native.NativeSource)
    finally:
        source.close()
