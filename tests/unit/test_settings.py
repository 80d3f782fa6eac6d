"""Unit tests of the environment-driven settings (pure logic)."""

from pathlib import Path

import pytest

from superhero_tools.settings import DEFAULT_KAFKA_VERSION, Settings


def test_defaults_match_the_documented_addresses():
    s = Settings.from_env({"HOME": "/home/u"})
    assert s.kafka_bootstrap_servers == "127.0.0.1:9092"
    assert (s.kafka_host, s.kafka_port, s.kafka_controller_port) == ("127.0.0.1", 9092, 9093)
    assert (s.redis_host, s.redis_port, s.redis_persistence) == ("127.0.0.1", 6379, "off")
    assert s.state_dir == Path(".superhero").absolute()
    assert s.kafka_version == DEFAULT_KAFKA_VERSION


def test_a_second_stack_only_needs_other_values():
    s = Settings.from_env(
        {
            "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:29092",
            "REDIS_PORT": "26379",
            "SUPERHERO_STATE_DIR": "/tmp/other",
            "SUPERHERO_CACHE_DIR": "/tmp/cache",
        }
    )
    assert (s.kafka_port, s.kafka_controller_port, s.redis_port) == (29092, 29093, 26379)
    assert s.state_dir == Path("/tmp/other")
    assert s.kafka_jars_dir == Path(f"/tmp/cache/kafka-{DEFAULT_KAFKA_VERSION}")


def test_the_password_never_shows_in_repr():
    assert "s3cret" not in repr(Settings.from_env({"REDIS_PASSWORD": "s3cret"}))


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"REDIS_PORT": "six"}, "REDIS_PORT must be a whole number"),
        ({"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:x"}, "expected host:port"),
        ({"REDIS_PERSISTENCE": "always"}, "REDIS_PERSISTENCE must be off, rdb or aof"),
    ],
)
def test_bad_values_say_which_variable_to_fix(env, message):
    with pytest.raises(ValueError, match=message):
        Settings.from_env(env)
