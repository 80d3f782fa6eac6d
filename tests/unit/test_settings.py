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


def test_a_cluster_s_nodes_take_the_ports_after_the_first_two_by_two():
    s = Settings.from_env(
        {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:19092", "SUPERHERO_KAFKA_BROKERS": "3"}
    )
    assert [s.kafka_node_ports(n) for n in s.kafka_nodes] == [
        (19092, 19093),
        (19094, 19095),
        (19096, 19097),
    ]
    assert s.kafka_cluster_bootstrap == "127.0.0.1:19092,127.0.0.1:19094,127.0.0.1:19096"
    one = Settings.from_env({"KAFKA_BOOTSTRAP_SERVERS": "kafka-a:9092,kafka-b:9092"})
    assert one.kafka_brokers == 1 and one.kafka_cluster_bootstrap == "kafka-a:9092,kafka-b:9092"
    with pytest.raises(ValueError, match="SUPERHERO_KAFKA_BROKERS must be 1 to 9"):
        Settings.from_env({"SUPERHERO_KAFKA_BROKERS": "0"})


def test_three_nodes_form_one_quorum_and_keep_three_copies_two_in_sync(tmp_path):
    from superhero_tools.stack import kafka

    s = Settings.from_env(
        {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:19092", "SUPERHERO_KAFKA_BROKERS": "3"}
    )
    props = dict(
        line.split("=", 1)
        for line in kafka.server_properties(s, 2, tmp_path).splitlines()
        if "=" in line and not line.startswith("#")
    )
    assert props["node.id"] == "2"
    assert props["controller.quorum.voters"] == (
        "1@127.0.0.1:19093,2@127.0.0.1:19095,3@127.0.0.1:19097"
    )
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19094,CONTROLLER://127.0.0.1:19095"
    assert props["default.replication.factor"] == props["offsets.topic.replication.factor"] == "3"
    assert props["min.insync.replicas"] == props["transaction.state.log.min.isr"] == "2"
    assert props["unclean.leader.election.enable"] == "false"
    single = Settings.from_env({})
    one = kafka.server_properties(single, 1, tmp_path)
    assert "controller.quorum.voters=1@127.0.0.1:9093\n" in one
    assert "min.insync.replicas=1\n" in one and "default.replication.factor=1\n" in one


def test_a_state_folder_formatted_for_other_nodes_is_refused(tmp_path):
    from superhero_tools.stack import StackError, kafka

    env = {"SUPERHERO_STATE_DIR": str(tmp_path), "SUPERHERO_KAFKA_BROKERS": "3"}
    three = Settings.from_env(env)
    cid = kafka.cluster_of(three)
    assert kafka.cluster_of(three) == cid  # every node is formatted with the same id
    one = Settings.from_env({**env, "SUPERHERO_KAFKA_BROKERS": "1"})
    with pytest.raises(StackError, match="formatted as 3 node.*--brokers 3.*--purge"):
        kafka.cluster_of(one)
    # A folder formatted before clusters existed is one node, with its recorded id.
    old = tmp_path / "old"
    (old / "kafka" / "data").mkdir(parents=True)
    (old / "kafka" / "data" / "meta.properties").write_text("version=1\ncluster.id=abc\n")
    old_env = {"SUPERHERO_STATE_DIR": str(old)}
    assert kafka.cluster_of(Settings.from_env(old_env)) == "abc"
    with pytest.raises(StackError, match="formatted as 1 node"):
        kafka.cluster_of(Settings.from_env({**old_env, "SUPERHERO_KAFKA_BROKERS": "3"}))


def test_a_controller_port_on_another_nodes_broker_port_is_refused():
    env = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092", "SUPERHERO_KAFKA_BROKERS": "3"}
    with pytest.raises(ValueError, match="KAFKA_CONTROLLER_PORT 9094 falls on a broker port"):
        Settings.from_env({**env, "KAFKA_CONTROLLER_PORT": "9094"})
    assert Settings.from_env({**env, "KAFKA_CONTROLLER_PORT": "9098"}).kafka_node_ports(3) == (
        9096,
        9102,
    )
    # One node has one broker port: any other controller port will do.
    assert Settings.from_env(
        {**env, "SUPERHERO_KAFKA_BROKERS": "1", "KAFKA_CONTROLLER_PORT": "9094"}
    )
