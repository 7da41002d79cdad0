"""The confluent-kafka settings mapping and the client choice (no broker needed)."""

from __future__ import annotations

import sys

import pytest

from consumers.clients import CLIENTS, uses_confluent
from consumers.config import validate
from consumers.confluent_client import LIBRDKAFKA_NAMES, librdkafka_config, require_confluent
from consumers.errors import ConfigError

SECRET = "conf-s3cret-value"


def test_every_client_setting_but_the_kerberos_domain_has_a_librdkafka_name():
    settings = {f for f in validate({}).kafka.__struct_fields__}
    secrets = {"sasl_plain_password_env", "ssl_password_env"}
    unmapped = settings - secrets - set(LIBRDKAFKA_NAMES) - {"client", "extra"}  # extra: as is
    assert unmapped == {"sasl_kerberos_domain_name"}


def test_a_secure_config_maps_to_librdkafka_names_with_the_secret_masked(monkeypatch):
    monkeypatch.setenv("OLR_TEST_CONF_PASSWORD", SECRET)
    monkeypatch.setenv("OLR_TEST_CONF_KEY_PASSWORD", SECRET + "-key")
    kafka = validate({"kafka": {
        "client": "confluent", "bootstrap_servers": ["a:9093", "b:9093"],
        "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_plain_username": "alice", "sasl_plain_password_env": "OLR_TEST_CONF_PASSWORD",
        "ssl_cafile": "/ca.pem", "ssl_certfile": "/c.pem", "ssl_keyfile": "/k.pem",
        "ssl_password_env": "OLR_TEST_CONF_KEY_PASSWORD", "ssl_check_hostname": False,
        "session_timeout_ms": 6000, "isolation_level": "read_uncommitted",
    }}).kafka
    consumer = librdkafka_config(kafka.client_kwargs(), "consumer")
    assert consumer == {
        "bootstrap.servers": "a:9093,b:9093", "client.id": "online-lr",
        "security.protocol": "SASL_SSL", "sasl.mechanisms": "SCRAM-SHA-256",
        "sasl.username": "alice", "sasl.password": SECRET,
        "ssl.ca.location": "/ca.pem", "ssl.certificate.location": "/c.pem",
        "ssl.key.location": "/k.pem", "ssl.key.password": SECRET + "-key",
        "ssl.endpoint.identification.algorithm": "none", "socket.timeout.ms": 30000,
        "session.timeout.ms": 6000, "isolation.level": "read_uncommitted",
    }
    assert SECRET not in repr(consumer) and SECRET not in str(consumer)
    producer = librdkafka_config(kafka.client_kwargs(), "producer")
    assert "session.timeout.ms" not in producer and "isolation.level" not in producer
    assert producer["sasl.password"] == SECRET


def test_hostname_checking_is_on_by_default():
    config = librdkafka_config(validate({}).kafka.client_kwargs(), "admin")
    assert config["ssl.endpoint.identification.algorithm"] == "https"


def test_a_setting_librdkafka_lacks_is_refused_by_name():
    kafka = validate({"kafka": {"sasl_kerberos_domain_name": "example.org"}}).kafka
    with pytest.raises(ConfigError) as info:
        librdkafka_config(kafka.client_kwargs(), "consumer")
    assert info.value.field == "kafka.sasl_kerberos_domain_name"


def test_the_client_choice_is_validated_and_travels_with_the_client_settings():
    assert validate({}).kafka.client == CLIENTS[0] == "kafka-python"
    assert uses_confluent(validate({"kafka": {"client": "confluent"}}).kafka.client_kwargs())
    assert not uses_confluent(validate({}).kafka.client_kwargs())
    with pytest.raises(ConfigError) as info:
        validate({"kafka": {"client": "librdkafka"}})
    assert info.value.field == "kafka.client"


def test_a_missing_confluent_kafka_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "confluent_kafka", None)  # import fails
    with pytest.raises(ConfigError) as info:
        require_confluent()
    assert info.value.field == "kafka.client"
    assert "pip install 'online-lr[confluent]'" in str(info.value)


def test_consume_without_confluent_kafka_exits_2_naming_the_extra(monkeypatch, tmp_path, capsys):
    from consumers.cli import main

    monkeypatch.setitem(sys.modules, "confluent_kafka", None)
    code = main(["consume", "-q", "--client", "confluent", "--topic", "t", "--group", "g",
                 "--bootstrap-servers", "127.0.0.1:9", "--checkpoint", str(tmp_path / "c.json")])
    assert code == 2
    assert "pip install 'online-lr[confluent]'" in capsys.readouterr().err
    assert not (tmp_path / "c.json").exists()
