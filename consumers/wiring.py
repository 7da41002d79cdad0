"""Settings -> a `consumers.runner.Runner`: the one place ``replay`` and ``consume`` are built.

Both commands start the same way (`start_run`: the checkpoint store opened and locked, the
checkpoint read unless ``--fresh``, model, encoder and totals restored from it by `restore`,
which refuses a checkpoint of another source or of other model settings) and build their
runner with `build_runner`, which turns the ``run`` and ``fields`` settings into the runner's
records (`Reading`, `Checkpointing`). They differ only in what they hand it: the source
(`replay_source`: files through `consumers.columnar`; `kafka_source`: a Kafka consumer whose
rebalance listener gets the runner's checkpoint), the sinks (`replay_sinks`, `kafka_sinks`) and
the reports. A consumer may also mix its model with its peers' (`mixing`: the runner's
after-batch hook) and serve metrics (`serving_metrics`). Every hook is given to a constructor;
nothing is attached afterwards.

Closing, in the reverse order of opening (``with`` blocks): the runner closes its source first
(a Kafka consumer leaving its group takes a last checkpoint, which flushes the sinks and writes
to the store), then the sinks, then the store.

>>> import os, tempfile
>>> from consumers.config import load_settings
>>> d = tempfile.mkdtemp(); path = os.path.join(d, "log.csv")
>>> _ = open(path, "w").write("a,y\\n1,2\\n2,4\\n3,\\n")
>>> settings = load_settings("replay", None, {"file.path": path, "fields.target": "y"})
>>> with start_run(settings, {"kind": "file", "name": "log.csv"}) as start, \\
...         replay_sinks(None) as sinks, \\
...         build_runner(settings, start, replay_source(settings, path, start), sinks=sinks,
...                      reports=Reports(fields_log_level=logging.DEBUG)) as runner:
...     result = runner.run()
>>> result.totals.learned, result.totals.predicted_only, runner.model.n_updates
(2, 1, 2)
>>> os.remove(path); os.rmdir(d)
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consumers.checkpoint import Checkpoint, CheckpointStore
from consumers.errors import CheckpointError, ConfigError
from consumers.runner import (
    Checkpointing,
    Counters,
    Learned,
    OpenSource,
    Reading,
    Reports,
    Runner,
    Sinks,
)
from consumers.schema import saved_encoder

__all__ = ["Start", "build_runner", "kafka_sinks", "kafka_source", "mixing", "replay_sinks",
           "replay_source", "restore", "restored_model", "serving_metrics", "start_run"]

logger = logging.getLogger("consumers")


@dataclass(frozen=True)
class Start:
    """Where a run starts: the store checkpoints go to (None: none), the checkpoint read from
    it (None: a fresh start) and the model, encoder and totals restored from that."""

    store: CheckpointStore | None
    checkpoint: Checkpoint | None
    learned: Learned


def _open_store(path: str | None, fresh: bool = False
               ) -> tuple[CheckpointStore | None, Checkpoint | None]:
    """The checkpoint store at ``path``, locked, and its checkpoint (None when ``fresh``)."""
    if path is None:
        return None, None
    store = CheckpointStore(path).open()
    if fresh:
        if store.path.exists():
            logger.warning("--fresh: starting a new model; %s will be overwritten", path)
        return store, None
    try:
        return store, store.load()
    except BaseException:
        store.close()
        raise


@contextlib.contextmanager
def start_run(settings: Any, expect: Mapping[str, Any]) -> Iterator[Start]:
    """Open the store of ``run.checkpoint`` and restore from it (a checkpoint whose source
    differs from ``expect`` is refused, see `restore`); the store is closed on exit."""
    run = settings.run
    store, checkpoint = _open_store(run.checkpoint, run.fresh)
    try:
        learned = restore(checkpoint, settings.fields, settings.model, dict(expect),
                          override_params=run.override_checkpoint_params)
        yield Start(store, checkpoint, learned)
    finally:
        if store is not None:
            store.close()


def build_runner(settings: Any, start: Start, open_source: OpenSource, *, sinks: Sinks,
                 reports: Reports, poll_timeout: float = 1.0, batch_size: int | None = None,
                 after_batch: Any = None) -> Runner:
    """The runner of a run: ``settings.run`` and ``settings.fields`` as its records.

    ``batch_size`` overrides ``run.batch_size`` (a replay's plot wants small batches).
    """
    run = settings.run
    return Runner(
        start.learned, open_source,
        reading=Reading(batch_size=batch_size or run.batch_size, max_messages=run.max_messages,
                        max_message_bytes=settings.fields.max_message_bytes,
                        poll_timeout=poll_timeout),
        checkpointing=Checkpointing(start.store, every_messages=run.checkpoint_every_messages,
                                    every_seconds=run.checkpoint_every_seconds),
        sinks=sinks, reports=reports, after_batch=after_batch,
    )


def restored_model(state: Mapping[str, Any], what: str) -> Any:
    """The `online_lr.SGDRegressor` of a saved ``state`` (`SGDRegressor.to_dict`), or a
    `CheckpointError` naming ``what`` could not be restored (``predict`` loads models so too).
    """
    from online_lr import SGDRegressor

    try:
        return SGDRegressor.from_dict(state)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{what} cannot be restored: {exc}") from None


def restore(checkpoint: Checkpoint | None, fields: Any, model_config: dict, expect: dict,
            *, override_params: bool = False) -> Learned:
    """Model, encoder and totals to start from: the checkpoint's, or fresh ones.

    ``fields`` are the ``fields`` settings (`consumers.config.FieldsSettings`); a checkpoint's
    encoder must have been built with the same ones (`consumers.schema.saved_encoder`).

    ``expect`` holds the keys of the running source's `describe()` that must match (kind and
    topic, or kind and file name): a checkpoint of another source is refused. Model settings
    the config sets (``model_config``) that differ from the checkpoint's are refused with a
    `ConfigError` naming them, unless ``override_params``: then the changeable ones (rates,
    penalties, clipping: the model's ``_mutable_attributes``) are applied to the restored model.
    """
    from consumers.config import build_model

    if checkpoint is None:
        return Learned(build_model(model_config), saved_encoder(None, fields), Counters())
    saved = checkpoint.source or {}
    for key in expect:
        if saved.get(key) != expect[key]:
            raise CheckpointError(
                f"the checkpoint was written for {key} {saved.get(key)!r}, this run reads "
                f"{expect[key]!r}: use another checkpoint path"
            )
    model = restored_model(checkpoint.model, "the checkpoint's model")
    _apply_model_config(model, checkpoint.model, build_model(model_config), model_config,
                        override_params)
    encoder = saved_encoder(checkpoint.schema, fields)
    return Learned(model, encoder, Counters.from_dict(checkpoint.counters))


def _plain(param: Any) -> Any:
    """A saved parameter as a user writes it: a constant rate schedule is its number."""
    schedule = param.get("schedule") if isinstance(param, dict) else None
    if isinstance(schedule, dict) and schedule.get("type") == "Constant":
        return schedule.get("params", {}).get("learning_rate", param)
    return param


def _apply_model_config(model: Any, saved: dict, configured: Any, model_config: dict,
                        override: bool) -> None:
    """Refuse (or, with ``override``, apply) the configured settings a checkpoint differs in."""
    saved_params = saved.get("params", {})
    wanted = configured.to_dict().get("params", {})
    differing = [k for k in model_config
                 if _plain(saved_params.get(k)) != _plain(wanted.get(k))]
    if not differing:
        return
    shown = ", ".join(
        f"{k} (checkpoint {_plain(saved_params.get(k))!r}, config {model_config[k]!r})"
        for k in differing
    )
    fixed = sorted(k for k in differing if k not in model._mutable_attributes)
    if not override or fixed:
        changeable = ", ".join(sorted(model._mutable_attributes))
        raise ConfigError(
            f"model.{differing[0]}",
            f"the resumed checkpoint's model has other settings: {shown}. To start afresh, "
            "pass --fresh (or delete the checkpoint); to change them on the learned model, pass "
            f"--override-checkpoint-params (possible for {changeable} only"
            + (f"; not {', '.join(fixed)})" if fixed else ")"),
        )
    model.mutate({k: getattr(configured, k) for k in differing})
    logger.warning("resumed model's settings changed on purpose: %s", shown)


# -- replay ------------------------------------------------------------------------------------


def replay_source(settings: Any, path: str, start: Start) -> OpenSource:
    """Opens the `ColumnarSource` of ``path`` where the checkpoint stopped (files have nothing
    to revoke)."""
    from consumers.columnar.source import ColumnarSource

    def open_source(_on_revoke: Any) -> ColumnarSource:
        source = ColumnarSource(
            path, start.learned.encoder, fmt=settings.file.format,
            start=start.checkpoint.source if start.checkpoint is not None else None,
            pace_field=settings.file.pace_field, speed=settings.file.speed,
            max_message_bytes=settings.fields.max_message_bytes)
        if start.checkpoint is not None:
            position, skip = source.position()
            logger.info("resuming %s from %s row %d (%d updates so far)", Path(path).name,
                        Path(position.path).name, position.row + skip,
                        start.learned.model.n_updates)
        return source

    return open_source


@contextlib.contextmanager
def replay_sinks(predictions_path: str | None) -> Iterator[Sinks]:
    """Dead letters logged; with ``--predictions``, every row's prediction or refusal written
    to that file too (closed on exit)."""
    from consumers.sinks import LoggedDeadLetters

    dead_letters = LoggedDeadLetters()
    if not predictions_path:
        yield Sinks(dead_letters=dead_letters)
        return
    from consumers.predict import PredictionsFile

    with contextlib.closing(PredictionsFile(predictions_path, also=dead_letters)) as out:
        yield Sinks(predictions=out, dead_letters=out.dead_letters)


# -- consume -----------------------------------------------------------------------------------


def kafka_source(settings: Any, start: Start, client_kwargs: Mapping[str, Any],
                 instance_id: str) -> OpenSource:
    """Opens the Kafka source (``kafka.client``'s) at the checkpoint's offsets, its rebalance
    listener checkpointing through the runner before partitions go."""
    from consumers.clients import make_source

    stream, run = settings.stream, settings.run

    def open_source(on_revoke: Any) -> Any:
        _load_kernels_meanwhile(start.learned.model)
        return make_source(
            stream.topic, stream.group, client_kwargs,
            offsets=start.checkpoint.offsets if start.checkpoint is not None else {},
            start_from=stream.start_from, idle_timeout=stream.idle_timeout,
            stop_at_end=stream.stop_at_end, broker_timeout=stream.broker_timeout,
            max_poll_records=run.batch_size,
            group_instance_id=(instance_id if stream.group_instance_id == "auto"
                               else stream.group_instance_id),
            on_revoke=on_revoke,
        )

    return open_source


def _load_kernels_meanwhile(model: Any) -> None:
    """Load ``model``'s compiled kernels (`SGDRegressor.load_kernels`: most of a second of CPU)
    in a thread, while the consumer waits for the broker (connecting, joining its group, the
    first fetch). A failure is left to the first update, which meets it again where errors
    are handled."""

    def load() -> None:
        try:
            model.load_kernels()
        except Exception:  # noqa: BLE001 - reported by the first update
            logger.debug("loading the kernels ahead of the first update failed", exc_info=True)

    threading.Thread(target=load, name="online-lr-load-kernels", daemon=True).start()


@contextlib.contextmanager
def kafka_sinks(stream: Any, client_kwargs: Mapping[str, Any]) -> Iterator[Sinks]:
    """Predictions and refused messages to their topics (created if absent) when set; dead
    letters logged otherwise. The producer is closed on exit."""
    from consumers.sinks import KafkaOutputs, LoggedDeadLetters, make_producer
    from consumers.topics import ensure_topic

    out_topics = [t for t in (stream.predictions_topic, stream.dead_letter_topic) if t]
    for topic in out_topics:
        ensure_topic(client_kwargs, topic, 1, stream.replication_factor,
                     timeout=stream.broker_timeout)
    if not out_topics:
        yield Sinks(dead_letters=LoggedDeadLetters(), give_up_after=stream.broker_timeout)
        return
    outputs = KafkaOutputs(
        make_producer(client_kwargs, bootstrap_timeout=stream.broker_timeout),
        predictions_topic=stream.predictions_topic, dead_letter_topic=stream.dead_letter_topic,
        flush_timeout=min(30.0, stream.broker_timeout),
    )
    with contextlib.closing(outputs):
        yield Sinks(predictions=outputs if stream.predictions_topic else None,
                    dead_letters=outputs if stream.dead_letter_topic else LoggedDeadLetters(),
                    give_up_after=stream.broker_timeout)


@contextlib.contextmanager
def mixing(stream: Any, client_kwargs: Mapping[str, Any], worker_id: str) -> Iterator[Any]:
    """The `ParameterMixer` of this worker, or None when ``stream.mix_every`` is 0."""
    if not stream.mix_every:
        yield None
        return
    from consumers.mixing import ParameterMixer
    from consumers.model_topic import ModelPublisher, ModelReader, ensure_model_topic
    from consumers.sinks import make_producer

    if stream.model_topic is None:
        raise ConfigError("stream.model_topic",
                          "required when stream.mix_every > 0 (pass --model-topic)")
    ensure_model_topic(client_kwargs, stream.model_topic, timeout=stream.broker_timeout)
    publisher = ModelPublisher(
        make_producer(client_kwargs, bootstrap_timeout=stream.broker_timeout),
        stream.model_topic,
    )
    try:
        reader = ModelReader(client_kwargs, stream.model_topic, timeout=stream.broker_timeout)
    except BaseException:
        publisher.close()
        raise
    mixer = ParameterMixer(worker_id, stream.mix_every, publisher, reader.fetch)
    logger.info("worker %s: mixing with its peers every %d updates via %r", worker_id,
                stream.mix_every, stream.model_topic)
    try:
        yield mixer
    finally:
        publisher.close()
        reader.close()


@contextlib.contextmanager
def serving_metrics(runner: Any, run: Any, mixer: Any) -> Iterator[Any]:
    """The `MetricsServer` of ``runner`` (and ``mixer``), or None without ``run.metrics_port``."""
    if run.metrics_port is None:
        yield None
        return
    from consumers.metrics_server import MetricsServer, RunnerCollector

    server = MetricsServer(RunnerCollector(runner, mixer), run.metrics_port, run.metrics_host)
    logger.info("metrics on http://%s:%d/metrics", server.host, server.port)
    try:
        yield server
    finally:
        server.close()
