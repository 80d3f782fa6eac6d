"""The native Kafka reader is tied to the librdkafka whose structs it declares."""

import logging

import pytest

from superhero_assets.core.kafka import consume, native_reader
from superhero_assets.core.kafka.client_reader import ClientSource
from superhero_assets.core.parse import native


@pytest.fixture
def fresh_judgement():
    native_reader.librdkafka_checked.cache_clear()
    yield
    native_reader.librdkafka_checked.cache_clear()


def test_the_pinned_confluent_kafka_loads_a_checked_librdkafka(fresh_judgement):
    assert native_reader.loaded_librdkafka() in native_reader.CHECKED_LIBRDKAFKA
    assert native_reader.librdkafka_checked()


def test_an_unchecked_librdkafka_reads_with_confluent_kafka_and_says_so(
    fresh_judgement, monkeypatch, caplog
):
    monkeypatch.setattr(native_reader, "loaded_librdkafka", lambda: "9.9.9")
    with caplog.at_level(logging.WARNING):
        assert not native_reader.enabled()
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
        assert isinstance(source, native_reader.NativeSource)
    finally:
        source.close()
