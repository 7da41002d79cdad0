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
def test_shipped_configs_are_valid_and_match_the_builtin_copies(name):
    data = yaml.safe_load((REPO / "configs" / f"{name}.yaml").read_text())
    assert data == BUILTIN[name]
    validate(data)
    config.build_model(data["model"])


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
        ({"kafka": {"security_protocol": "TLS"}}, "kafka.security_protocol"),
        ({"kafka": {"bootstrap_servers": 9092}}, "kafka.bootstrap_servers"),
        ({"kafka": {"fetch_max_bytes": 1}}, "kafka.fetch_max_bytes"),
        ({"model": [1]}, "model"),
    ],
)
def test_bad_config_is_refused_naming_the_field(data, field):
    with pytest.raises(ConfigError) as info:
        validate(data)
    assert info.value.field == field
    assert repr(field) in str(info.value)


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
