"""consumers.wiring: where a run starts (checkpoint, restore) and how its runner is built."""

from __future__ import annotations

import logging

import pytest
from row_source import RowSource
from test_runner import make_rows, write_jsonl

from consumers.checkpoint import CheckpointStore
from consumers.config import FieldsSettings, load_settings
from consumers.errors import CheckpointError
from consumers.runner import Checkpointing, Reading, Reports, Runner, Sinks
from consumers.wiring import build_runner, restore, start_run
from online_lr import SGDRegressor


def settings_for(tmp_path, **overrides):
    """Replay settings checkpointing to ``tmp_path/c.json``, with ``overrides``."""
    return load_settings("replay", None, {"run.checkpoint": str(tmp_path / "c.json"),
                                          "fields.target": "y", **overrides})


def test_build_runner_turns_the_settings_into_the_runners_records(tmp_path):
    settings = settings_for(tmp_path, **{"run.batch_size": 7, "run.checkpoint_every_messages": 3,
                                         "run.max_messages": 40})
    path = write_jsonl(tmp_path / "d.jsonl", make_rows(100))
    with start_run(settings, {"kind": "file", "name": "d.jsonl"}) as start, build_runner(
            settings, start, lambda _: RowSource(path), sinks=Sinks(), reports=Reports(),
            poll_timeout=0.5) as runner:
        assert runner.reading == Reading(7, 40, settings.fields.max_message_bytes, 0.5)
        assert runner.checkpointing == Checkpointing(start.store, 3,
                                                     settings.run.checkpoint_every_seconds)
        result = runner.run()
    assert result.totals.messages == 40 and start.store.path.exists()


def test_a_fresh_start_ignores_the_checkpoint_and_a_refused_one_releases_it(tmp_path, caplog):
    path = write_jsonl(tmp_path / "d.jsonl", make_rows(50))
    settings = settings_for(tmp_path)
    with start_run(settings, {"kind": "file", "name": "d.jsonl"}) as start, build_runner(
            settings, start, lambda _: RowSource(path), sinks=Sinks(), reports=Reports()) as r:
        r.run()
    with start_run(settings, {"kind": "file", "name": "d.jsonl"}) as start:
        assert start.checkpoint is not None and start.learned.model.n_updates > 0
    with caplog.at_level(logging.WARNING), \
            start_run(settings_for(tmp_path, **{"run.fresh": True}), {"kind": "file"}) as start:
        assert start.checkpoint is None and start.learned.model.n_updates == 0
    assert "--fresh: starting a new model" in caplog.text
    with pytest.raises(CheckpointError, match="other.jsonl"):
        with start_run(settings, {"kind": "file", "name": "other.jsonl"}):
            pass
    CheckpointStore(tmp_path / "c.json").open().close()  # not left locked


def test_checkpoint_of_another_source_is_refused(tmp_path):
    from consumers.checkpoint import Checkpoint
    from consumers.errors import CheckpointError

    ck = Checkpoint(model=SGDRegressor().to_dict(), source={"kind": "kafka", "topic": "t"})
    with pytest.raises(CheckpointError, match="kind"):
        restore(ck, FieldsSettings(), {}, {"kind": "file", "name": "x.csv"})
    from consumers.errors import ConfigError
    from consumers.schema import build_encoder

    ck = Checkpoint(model=SGDRegressor().to_dict(), source={"kind": "kafka", "topic": "t"},
                    schema=build_encoder(FieldsSettings(target="z")).to_dict())
    with pytest.raises(ConfigError, match="fields.target"):
        restore(ck, FieldsSettings(target="y"), {}, {"kind": "kafka", "topic": "t"})
    ck = Checkpoint(model={"format": "nope"}, source={"kind": "kafka", "topic": "t"})
    with pytest.raises(CheckpointError, match="cannot be restored"):
        restore(ck, FieldsSettings(), {}, {"kind": "kafka", "topic": "t"})


def _checkpoint_of(tmp_path, model_config: dict):
    store = CheckpointStore(tmp_path / "c.json")
    with store:
        path = write_jsonl(tmp_path / "d.jsonl", make_rows(50))
        learned = restore(None, FieldsSettings(target="y"), model_config, {})
        with Runner(learned, lambda _: RowSource(path),
                    checkpointing=Checkpointing(store, None, None)) as runner:
            runner.run()
        return store.load()


def test_changed_model_settings_against_a_checkpoint_are_refused_by_name(tmp_path):
    from consumers.errors import ConfigError

    checkpoint = _checkpoint_of(tmp_path, {"learning_rate": 0.01})
    expect = {"kind": "file"}
    restore(checkpoint, FieldsSettings(), {"learning_rate": 0.01}, expect)  # the same: fine
    restore(checkpoint, FieldsSettings(target="y"), {}, expect)  # nothing set: the checkpoint's
    with pytest.raises(ConfigError, match=r"learning_rate \(checkpoint 0.01, config 0.5\)"
                                          r".*--fresh.*--override-checkpoint-params") as info:
        restore(checkpoint, FieldsSettings(target="y"), {"learning_rate": 0.5, "l2": 0.0}, expect)
    assert info.value.field == "model.learning_rate"
    model, _, _ = restore(checkpoint, FieldsSettings(target="y"), {"learning_rate": 0.5}, expect,
                          override_params=True)
    assert model.learning_rate_now == 0.5 and model.n_updates == 45
    with pytest.raises(ConfigError, match="not update"):  # not changeable on a learned model
        restore(checkpoint, FieldsSettings(target="y"), {"update": "normalized"}, expect,
                override_params=True)
