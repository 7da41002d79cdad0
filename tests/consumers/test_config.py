"""consumers.config: defaults, overrides, refusals naming the field, and secrets kept out."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

from consumers import config
from consumers.cli import main
from consumers.config import BUILTIN, load_settings, validate
from consumers.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["replay", "kafka"])
def test_shipped_configs_state_no_default_other_than_the_code(name):
    data = yaml.safe_load((REPO / "configs" / f"{name}.yaml").read_text())
    assert validate(data) == validate(BUILTIN[name])  # a wheel without configs/ runs the same
    config.build_model(data["model"])


def test_the_builtin_configs_set_only_what_differs_from_the_defaults():
    defaults = validate({})
    for name, sections in BUILTIN.items():
        for section, values in sections.items():
            for key, value in values.items():
                assert getattr(getattr(defaults, section), key) != value, f"{name}: {section}.{key}"


@pytest.mark.parametrize("name", ["replay", "kafka"])
def test_one_default_model_everywhere(name):
    from online_lr import SGDRegressor

    settings = load_settings(name, None)
    assert settings.model == {}  # no overrides: replay and consume learn SGDRegressor()
    assert config.build_model(settings.model)._get_params() == SGDRegressor()._get_params()


def test_replay_default_points_at_the_bundled_log():
    s = load_settings("replay", None)
    assert s.fields.target == "five_thirty_eight"
    path = config.resolve_data_path(s.file.path)
    assert path.is_file() and path.parent == config.DATA_DIR
    assert config.resolve_data_path(None) == path


def test_flags_override_the_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("fields: {target: a}\nrun: {batch_size: 10}\nmodel: {l2: 0.5}\n")
    s = load_settings("replay", path, {"run.batch_size": 3, "model.learning_rate.type": "Constant"})
    assert s.fields.target == "a" and s.run.batch_size == 3
    assert s.model == {"l2": 0.5, "learning_rate": {"type": "Constant"}}
    assert s.run.checkpoint_every_seconds == 30.0  # untouched keys keep their defaults


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"modle": {}}, "modle"),
        ({"run": {"batchsize": 5}}, "run.batchsize"),
        ({"run": {"batch_size": "ten"}}, "run.batch_size"),
        ({"run": {"batch_size": True}}, "run.batch_size"),
        ({"run": {"batch_size": 0}}, "run.batch_size"),
        ({"run": {"batch_size": 2.5}}, "run.batch_size"),
        ({"run": {"checkpoint_every_seconds": -1}}, "run.checkpoint_every_seconds"),
        ({"run": {"progress": "yes"}}, "run.progress"),
        ({"run": []}, "run"),
        ({"file": {"speed": 0}}, "file.speed"),
        ({"file": {"format": "xml"}}, "file.format"),
        ({"fields": {"target": None}}, "fields.target"),
        ({"fields": {"features": "a,b"}}, "fields.features"),
        ({"fields": {"features": ["y"]}}, "fields.features"),
        ({"fields": {"features": []}}, "fields.features"),
        ({"stream": {"start_from": "beginning"}}, "stream.start_from"),
        ({"stream": {"idle_timeout": float("nan")}}, "stream.idle_timeout"),
        ({"stream": {"broker_timeout": float("inf")}}, "stream.broker_timeout"),
        ({"fields": {"ignore": ["a", ""]}}, "fields.ignore[1]"),
        ({"kafka": {"bootstrap_servers": []}}, "kafka.bootstrap_servers"),
        ({"kafka": {"extra": {1: "a"}}}, "kafka.extra"),
        ({"kafka": {"security_protocol": "TLS"}}, "kafka.security_protocol"),
        ({"kafka": {"bootstrap_servers": 9092}}, "kafka.bootstrap_servers"),
        ({"kafka": {"fetch_max_bytes": 1}}, "kafka.fetch_max_bytes"),
        ({"model": [1]}, "model"),
        ([1], "<root>"),
    ],
)
def test_bad_config_is_refused_naming_the_field(data, field):
    with pytest.raises(ConfigError) as info:
        validate(data)
    assert info.value.field == field
    assert repr(field) in str(info.value)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"run": {"batch_size": "ten"}}, "expected int, got 'ten'"),
        ({"run": {"batch_size": 0}}, "expected int >= 1, got 0"),
        ({"file": {"format": "xml"}},
         "expected one of 'auto', 'csv', 'jsonl', 'parquet', got 'xml'"),
        ({"kafka": {"sasl_mechanism": "X"}}, "'SCRAM-SHA-512' or null, got 'X'"),
        ({"fields": {"features": "a,b"}}, "expected list | null, got 'a,b'"),
        ({"run": []}, "expected mapping, got []"),
        ({"run": {"batchsize": 5}},
         "unknown key 'batchsize'; did you mean 'batch_size'? known: batch_size,"),
        ({"modle": {}}, "unknown section 'modle'; did you mean 'model'? known: fields, file, kafka,"),
        ({"kafka": {"fetch_max_bytes": 1}}, "; any other client setting goes in kafka.extra"),
    ],
)
def test_a_refusal_says_what_was_expected_and_what_was_given(data, says):
    with pytest.raises(ConfigError) as info:
        validate(data)
    assert says in str(info.value)


def test_a_wrong_value_in_kafka_extra_is_not_shown():
    with pytest.raises(ConfigError) as info:
        validate({"kafka": {"extra": {"a": [SECRET]}}})
    assert str(info.value) == ("config field 'kafka.extra': a value: "
                               "expected bool | int | float | str, got list")
    with pytest.raises(ConfigError) as info:
        validate({"kafka": {"extra": f"sasl.password={SECRET}"}})
    assert str(info.value) == "config field 'kafka.extra': expected mapping | null, got str"


@pytest.mark.parametrize(
    ("model", "field"),
    [({"learning_rat": 0.1}, "model.learning_rat"), ({"l2": -1.0}, "model")],
)
def test_bad_model_section_names_the_field(model, field):
    with pytest.raises(ConfigError) as info:
        config.build_model(model)
    assert info.value.field == field
    if field == "model":
        assert "l2" in str(info.value)
    else:
        assert ("unknown model parameter 'learning_rat'; did you mean 'learning_rate'? known: "
                in str(info.value))


def test_cli_refuses_a_bad_config_with_exit_2(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("run:\n  batch_size: lots\n")
    assert main(["replay", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "'run.batch_size'" in err and "lots" in err
    path.write_text("model:\n  learning_rat: 0.1\n")
    assert main(["replay", "--config", str(path)]) == 2
    assert "'model.learning_rat'" in capsys.readouterr().err
    path.write_text("run: [unclosed\n")
    assert main(["replay", "--config", str(path)]) == 2
    assert "not valid YAML" in capsys.readouterr().err


def test_cli_set_overrides_any_key(tmp_path, capsys):
    assert main(["replay", "-q", "--set", "run.batch_size=zero"]) == 2
    assert "'run.batch_size'" in capsys.readouterr().err


SECRET = "s3cr3t-Pa55word"


def test_passwords_in_the_config_are_refused():
    for key in ("sasl_plain_password", "ssl_password"):
        with pytest.raises(ConfigError) as info:
            validate({"kafka": {key: SECRET}})
        assert info.value.field == f"kafka.{key}"
        assert f"{key}_env" in str(info.value)
        assert SECRET not in str(info.value)


def test_secrets_come_from_the_environment_and_stay_out_of_reprs(monkeypatch, caplog):
    monkeypatch.setenv("OLR_TEST_KAFKA_PASSWORD", SECRET)
    s = validate({"kafka": {
        "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "alice", "sasl_plain_password_env": "OLR_TEST_KAFKA_PASSWORD",
        "ssl_cafile": "/etc/ca.pem",
    }})
    kw = s.kafka.client_kwargs()
    assert kw["sasl_plain_password"] == SECRET
    assert "sasl_plain_password_env" not in kw
    assert kw["sasl_plain_username"] == "alice" and kw["ssl_cafile"] == "/etc/ca.pem"
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("consumers").info("settings: %s / %r", s, s.kafka)
    for text in (repr(s), str(s), repr(s.kafka), caplog.text):
        assert SECRET not in text
    assert "OLR_TEST_KAFKA_PASSWORD" in repr(s.kafka)


def test_a_missing_secret_variable_is_named(monkeypatch):
    monkeypatch.delenv("OLR_TEST_UNSET", raising=False)
    s = validate({"kafka": {"sasl_plain_password_env": "OLR_TEST_UNSET"}})
    with pytest.raises(ConfigError) as info:
        s.kafka.client_kwargs()
    assert info.value.field == "kafka.sasl_plain_password_env"
    assert "OLR_TEST_UNSET" in str(info.value)


def test_bundled_prefix_refuses_unknown_names():
    with pytest.raises(ConfigError) as info:
        config.resolve_data_path("bundled:nope.csv")
    assert info.value.field == "file.path"


def test_precedence_defaults_then_file_then_environment_then_flags(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("run: {batch_size: 10, log_every_seconds: 5}\n"
                    "stream: {group: from-file, topic: from-file}\n")
    env = {"ONLINE_LR_STREAM__GROUP": "from-env", "ONLINE_LR_RUN__BATCH_SIZE": "20",
           "ONLINE_LR_KAFKA__BOOTSTRAP_SERVERS": "[a:1, b:2]", "ONLINE_LR_MODEL__L2": "1e-3",
           "ONLINE_LR_MODEL__LEARNING_RATE__TYPE": "Constant",
           "ONLINE_LR_KAFKA_CACHE": "/not/a/setting"}
    s = load_settings("kafka", path, {"run.batch_size": 30}, environ=env)
    assert s.run.batch_size == 30  # flag over environment
    assert s.stream.group == "from-env"  # environment over file
    assert s.stream.topic == "from-file" and s.run.log_every_seconds == 5.0  # file over default
    assert s.run.checkpoint_every_seconds == 30.0  # default
    assert s.kafka.bootstrap_servers == ("a:1", "b:2")
    assert s.model == {"l2": 0.001, "learning_rate": {"type": "Constant"}}


def test_a_bad_environment_setting_is_refused_naming_the_variable():
    with pytest.raises(ConfigError) as info:
        load_settings("kafka", None, environ={"ONLINE_LR_RUN__BATCH_SIZE": "ten"})
    assert info.value.field == "run.batch_size"
    with pytest.raises(ConfigError) as info:
        load_settings("kafka", None, environ={"ONLINE_LR___BATCH_SIZE": "1"})
    assert info.value.field == "ONLINE_LR___BATCH_SIZE"


def test_the_cli_reads_the_environment_under_its_flags(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ONLINE_LR_FIELDS__TARGET", "not_a_column")
    assert main(["replay", "-q", "--checkpoint", str(tmp_path / "c.json")]) == 2
    assert "not_a_column" in capsys.readouterr().err
    assert main(["replay", "-q", "--target", "five_thirty_eight"]) == 0


def test_kafka_extra_passes_any_client_setting_to_both_clients():
    from kafka import KafkaConsumer, KafkaProducer

    from consumers.confluent_client import librdkafka_config
    from consumers.kafka_source import client_config

    s = validate({"kafka": {"extra": {"fetch_max_bytes": 1 << 20, "linger_ms": 5,
                                      "max_partition_fetch_bytes": 1 << 21}}})
    kw = s.kafka.client_kwargs()
    consumer = client_config(KafkaConsumer, kw)
    assert consumer["fetch_max_bytes"] == 1 << 20 and "linger_ms" not in consumer
    assert consumer["max_partition_fetch_bytes"] == 1 << 21
    assert client_config(KafkaProducer, kw)["linger_ms"] == 5
    s = validate({"kafka": {"client": "confluent", "extra": {"fetch.max.bytes": 1000}}})
    assert librdkafka_config(s.kafka.client_kwargs(), "consumer")["fetch.max.bytes"] == 1000


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ({"sasl.password": SECRET}, "looks like a secret"),
        ({"ssl.keystore.password": SECRET}, "looks like a secret"),
        ({"sasl.oauthbearer.client.secret": SECRET}, "looks like a secret"),
        ({"sasl.jaas.config": SECRET}, "looks like a secret"),
        ({"bootstrap.servers": "x:1"}, "kafka.bootstrap_servers"),
        ({"request_timeout_ms": 5}, "kafka.request_timeout_ms"),
        ({"enable_auto_commit": True}, "the checkpoint"),
        ({"group.id": "g"}, "stream.group"),
        ({"fetch_max_bytes": None}, "a value: expected bool | int | float | str, got null"),
        ({"nested": {"a": 1}}, "a value: expected bool | int | float | str, got mapping"),
    ],
)
def test_kafka_extra_refuses_secrets_owned_and_malformed_settings(extra, says):
    with pytest.raises(ConfigError) as info:
        validate({"kafka": {"extra": extra}})
    assert info.value.field.startswith("kafka.extra") and says in str(info.value)
    assert SECRET not in str(info.value)


def test_kafka_extra_names_unknown_to_kafka_python_are_refused_when_the_client_is_built():
    from kafka import KafkaConsumer

    from consumers.kafka_source import client_config

    kw = validate({"kafka": {"extra": {"fetch_max_byte": 1}}}).kafka.client_kwargs()
    with pytest.raises(ConfigError) as info:
        client_config(KafkaConsumer, kw)
    assert info.value.field == "kafka.extra.fetch_max_byte"


def test_oauthbearer_is_refused_at_config_time_with_what_to_use_instead():
    with pytest.raises(ConfigError) as info:
        validate({"kafka": {"security_protocol": "SASL_SSL", "sasl_mechanism": "OAUTHBEARER"}})
    assert info.value.field == "kafka.sasl_mechanism"
    assert "token provider" in str(info.value) and "SCRAM-SHA-512" in str(info.value)
