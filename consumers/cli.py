"""``online-lr``: replay a log, produce it to Kafka, or learn from a Kafka topic.

Every flag can also come from a YAML config (``--config``; default ``configs/replay.yaml`` for
``replay`` and ``configs/kafka.yaml`` for ``produce``/``consume``); ``ONLINE_LR_SECTION__KEY``
environment variables override the file, flags override both, and ``--set section.key=value``
overrides any other key (the value is parsed as YAML). See `consumers.config`.

Exit codes: 0 done (end of file, idle timeout, --max-messages, SIGINT/SIGTERM); 1 an output could
not be produced; 2 bad command line or config (a target that is not a field, model settings that
differ from a resumed checkpoint's); 3 unusable checkpoint; 4 Kafka unreachable past
``--broker-timeout``; 5 nothing was learned (``predict``: scored) from the rows read, a new
model read no row, or (``replay``) a constant predicts better than the model; 6 a Kafka error
retrying cannot fix (a missing codec, a corrupt batch).

This module imports only the standard library at import time, so ``online-lr --help`` is fast;
numpy, the model, kafka-python, tqdm and matplotlib load when a command needs them.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import itertools
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = ["build_parser", "main"]

logger = logging.getLogger("consumers")

EPILOG = """\
examples:
  online-lr replay                                  # the bundled TrumpApproval log
  online-lr replay data.csv.gz --target price --plot mse.png --checkpoint model.ckpt.json
  online-lr replay log.jsonl --pace-field ts --speed 60
  online-lr predict new.csv --checkpoint model.ckpt.json --output scored.csv
  online-lr produce data.csv --topic prices --bootstrap-servers 127.0.0.1:9092 --partitions 3
  online-lr consume --topic prices --bootstrap-servers 127.0.0.1:9092 --group lr \\
      --checkpoint lr.ckpt.json --target price --predictions-topic prices-pred --idle-timeout 30
"""


def _csv_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _setting(text: str) -> tuple[str, Any]:
    from consumers.config import parse_value
    from consumers.errors import ConfigError

    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key.strip(), parse_value(raw, key.strip())
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add(p: argparse.ArgumentParser, *flags: str, key: str, **kw: Any) -> None:
    """A flag that overrides config ``key``; absent flags leave the config alone."""
    p.add_argument(*flags, dest=key, default=argparse.SUPPRESS, **kw)


def _common(p: argparse.ArgumentParser, default_config: str) -> None:
    p.add_argument("--config", metavar="YAML", default=None,
                   help=f"config file (default: configs/{default_config}.yaml)")
    p.add_argument("--set", metavar="KEY=VALUE", dest="settings", action="append", default=[],
                   type=_setting, help="override any config key, e.g. model.l2=0.001 (repeatable)")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv: kafka)")
    p.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    from consumers.logs import FORMATS

    p.add_argument("--log-format", choices=FORMATS, default="text",
                   help="log lines as text (default) or one JSON object per line")


def _fields(p: argparse.ArgumentParser) -> None:
    _add(p, "--target", key="fields.target", metavar="FIELD", help="target field")
    _add(p, "--timestamp", key="fields.timestamp", metavar="FIELD",
         help="event time field (epoch seconds or ISO 8601): reported, never a feature")
    _add(p, "--features", key="fields.features", metavar="A,B,...", type=_csv_list,
         help="the only feature fields (default: every field but the target)")
    _add(p, "--include", key="fields.include", metavar="GLOB,...", type=_csv_list,
         help="patterns of the feature fields, e.g. 'user.*,city' (default: all)")
    _add(p, "--ignore", key="fields.ignore", metavar="GLOB,...", type=_csv_list,
         help="patterns of fields that are never features, e.g. other label columns")
    _add(p, "--categorical", key="fields.categorical", metavar="GLOB,...", type=_csv_list,
         help="patterns of fields whose numbers are categories (e.g. zip codes)")
    _add(p, "--transform", key="fields.transform", metavar="PKG.MODULE:FUNCTION",
         help="a function dict -> dict applied to each event first")
    _add(p, "--encoding", key="fields.encoding", choices=("onehot", "hash"),
         help="strings as field=value features (onehot) or hashed into buckets")
    _add(p, "--hash-bits", key="fields.hash_bits", type=int, metavar="B",
         help="2**B hash buckets (default 18)")
    _add(p, "--max-features", key="fields.max_features", type=int, metavar="N",
         help="named features; past N new ones overflow (default 100000)")
    _add(p, "--overflow", key="fields.overflow", choices=("hash", "refuse"),
         help="a new feature past --max-features: hashed, or its event refused")
    _add(p, "--number-strings", key="fields.number_strings", choices=("parse", "keep"),
         help="'1.5' in a string: a number (parse, default) or a category (keep)")


def _file(p: argparse.ArgumentParser, required: bool) -> None:
    if required:
        p.add_argument("file", metavar="FILE", help="CSV or JSON Lines file, optionally .gz")
    else:
        p.add_argument("file", metavar="FILE", nargs="?", default=None,
                       help="CSV, JSON Lines (optionally .gz) or Parquet file, a directory, a "
                            "glob (hive partitions: 'logs/date=2026-11-*/') or - (stdin); "
                            "default: the config's file.path, i.e. the bundled TrumpApproval log")
    _add(p, "--format", key="file.format", choices=("auto", "csv", "jsonl", "parquet"),
         help="file format (default: from the extension; sniffed on stdin)")
    _add(p, "--pace-field", key="file.pace_field", metavar="FIELD",
         help="replay at the log's pace, reading times (epoch seconds or ISO 8601) from FIELD")
    _add(p, "--speed", key="file.speed", type=float, metavar="X",
         help="pacing speed factor (2 = twice as fast)")


def _kafka(p: argparse.ArgumentParser) -> None:
    from consumers.clients import CLIENTS

    _add(p, "--topic", key="stream.topic", metavar="T", help="input topic")
    _add(p, "--bootstrap-servers", key="kafka.bootstrap_servers", metavar="HOST:PORT",
         help="Kafka bootstrap servers")
    _add(p, "--client", key="kafka.client", choices=CLIENTS,
         help="Kafka client library (default kafka-python; confluent needs "
              "pip install 'online-lr[confluent]')")


def _checkpointing(p: argparse.ArgumentParser) -> None:
    _add(p, "--checkpoint", key="run.checkpoint", metavar="PATH",
         help="checkpoint file: resumed from if present, written periodically and at the end")
    _add(p, "--checkpoint-every", key="run.checkpoint_every_messages", type=int, metavar="N",
         help="checkpoint every N messages")
    _add(p, "--checkpoint-interval", key="run.checkpoint_every_seconds", type=float,
         metavar="S", help="checkpoint every S seconds")
    _add(p, "--batch-size", key="run.batch_size", type=int, metavar="N",
         help="messages per batch (one learn_sequential call)")
    _add(p, "--max-messages", key="run.max_messages", type=int, metavar="N",
         help="stop after N messages in this run")
    _add(p, "--fresh", key="run.fresh", action="store_true",
         help="start a new model even if the checkpoint exists (it is overwritten)")
    _add(p, "--override-checkpoint-params", key="run.override_checkpoint_params",
         action="store_true",
         help="apply the model settings given (rates, l1, l2, clip_gradient) to the resumed "
              "model; without it, settings that differ from the checkpoint's are refused")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="online-lr",
        description="Streaming linear regression: learn an SGD regressor prequentially "
                    "(predict, score, learn) from a replayed log or a Kafka topic.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("replay", help="prequential run over a CSV/JSONL log (default: bundled)",
                       description="Predict, score and learn each row of a log in order.")
    _file(p, required=False)
    _fields(p)
    _checkpointing(p)
    _add(p, "--plot", key="run.plot", metavar="PNG",
         help="write a plot of the rolling MSE of the model and of its baseline (predicting "
              "the mean target)")
    _add(p, "--predictions", key="run.predictions", metavar="OUT",
         help="write row, prediction, reason of every row to OUT (.csv, .jsonl or .parquet; "
              "- : CSV on stdout)")
    _add(p, "--progress", key="run.progress", action=argparse.BooleanOptionalAction,
         help="progress bar on stderr (default: only on a terminal)")
    _common(p, "replay")

    p = sub.add_parser("predict", help="score a CSV/JSONL file with a learned model",
                       description="Predict every row of FILE with the model of a checkpoint "
                                   "(or a model file written by SGDRegressor.save) and write "
                                   "row, prediction, reason (empty when scored), one line "
                                   "per input row.")
    p.add_argument("file", metavar="FILE",
                   help="CSV, JSON Lines (optionally .gz) or Parquet file, directory or glob")
    _add(p, "--format", key="file.format", choices=("auto", "csv", "jsonl", "parquet"),
         help="file format (default: from the extension)")
    _add(p, "--checkpoint", key="run.checkpoint", metavar="PATH",
         help="checkpoint of replay/consume, or a model file (SGDRegressor.save)")
    p.add_argument("--output", metavar="OUT", required=True,
                   help="where to write: .csv, .jsonl or .parquet ('-': CSV on stdout)")
    _common(p, "replay")

    p = sub.add_parser("produce", help="send each row of a log to a topic as a JSON message",
                       description="Send each row of FILE as a JSON message, creating the "
                                   "topic if absent; prints the number of messages sent.")
    _file(p, required=True)
    _kafka(p)
    _add(p, "--partitions", key="stream.partitions", type=int, metavar="N",
         help="partitions of the topic if it is created (default 1)")
    _add(p, "--key-field", key="stream.key_field", metavar="FIELD",
         help="use this field's value as the message key")
    _add(p, "--max-messages", key="run.max_messages", type=int, metavar="N",
         help="send at most N messages")
    _common(p, "kafka")

    p = sub.add_parser("consume", help="prequential learning from a Kafka topic",
                       description="Predict every message, learn the labelled ones, checkpoint "
                                   "model and offsets together; resumes from --checkpoint.")
    _kafka(p)
    _add(p, "--group", key="stream.group", metavar="G", help="consumer group")
    _fields(p)
    _checkpointing(p)
    _add(p, "--idle-timeout", key="stream.idle_timeout", type=float, metavar="S",
         help="exit 0 after S seconds without messages")
    _add(p, "--stop-at-end", key="stream.stop_at_end", action="store_true",
         help="exit 0 once every assigned partition is read up to its high-water mark "
              "(the end of the topic when this is the group's only consumer)")
    _add(p, "--broker-timeout", key="stream.broker_timeout", type=float, metavar="S",
         help="exit 4 after S seconds without a reachable broker (default 60)")
    _add(p, "--predictions-topic", key="stream.predictions_topic", metavar="P",
         help="publish each prediction to this topic")
    _add(p, "--dead-letter-topic", key="stream.dead_letter_topic", metavar="D",
         help="send refused messages (original bytes + reason headers) to this topic")
    _add(p, "--start-from", key="stream.start_from", choices=("earliest", "latest"),
         help="where partitions absent from the checkpoint start (default earliest)")
    _add(p, "--log-interval", key="run.log_every_seconds", type=float, metavar="S",
         help="seconds between progress log lines")
    _add(p, "--mix-every", key="stream.mix_every", type=int, metavar="K",
         help="every K updates, publish the model to --model-topic and average it with the "
              "group's other workers (sample-weighted); default 0 = off")
    _add(p, "--model-topic", key="stream.model_topic", metavar="M",
         help="compacted topic of the workers' models (created if absent)")
    _add(p, "--metrics-port", key="run.metrics_port", type=int, metavar="P",
         help="serve Prometheus metrics on HOST:P/metrics (needs "
              "pip install 'online-lr[metrics]')")
    _add(p, "--metrics-host", key="run.metrics_host", metavar="HOST",
         help="address of the metrics endpoint (default 127.0.0.1; 0.0.0.0: every interface)")
    _common(p, "kafka")

    p = sub.add_parser("model", help="print the mix of the models on a model topic",
                       description="Read every worker's latest model on the model topic and "
                                   "print their sample-weighted average.")
    _add(p, "--topic", key="stream.model_topic", metavar="M", help="the model topic")
    _add(p, "--bootstrap-servers", key="kafka.bootstrap_servers", metavar="HOST:PORT",
         help="Kafka bootstrap servers")
    p.add_argument("--json", action="store_true", help="print JSON")
    _common(p, "kafka")
    return parser


# -- helpers -----------------------------------------------------------------------------------


def _setup_logging(verbose: int, quiet: bool, log_format: str = "text") -> None:
    from consumers.logs import formatter

    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(formatter(log_format))
        root.addHandler(handler)
        root.setLevel(logging.WARNING)
    logging.getLogger("consumers").setLevel(level)
    # kafka-python logs every failed reconnection at ERROR: during an outage our own warnings
    # say what matters, so its logs are shown only with -v (warnings) or -vv (everything).
    kafka_level = {0: logging.CRITICAL, 1: logging.WARNING}.get(verbose, logging.DEBUG)
    logging.getLogger("kafka").setLevel(kafka_level)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    out = {k: v for k, v in vars(args).items() if "." in k}
    if getattr(args, "file", None) is not None:
        out["file.path"] = args.file
    for key, value in args.settings:
        out[key] = value
    return out


@contextlib.contextmanager
def _graceful(runner) -> Iterator[None]:
    """SIGINT/SIGTERM finish the current batch, checkpoint and exit 0 (a second one aborts)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if runner.stopping:
            raise KeyboardInterrupt
        logger.warning("%s received: stopping after this batch", signal.Signals(signum).name)
        runner.request_stop()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _require(settings_value: Any, field: str, flag: str) -> Any:
    from consumers.errors import ConfigError

    if settings_value is None:
        raise ConfigError(field, f"required (set it in the config or pass {flag})")
    return settings_value


def _print_summary(result, plot: str | None, curve, predictions: str | None = None) -> int:
    """Print the summary (and write the plot); the exit code of the run.

    On stderr when the predictions are written to stdout (``--predictions -``): in their
    CSV, it would be rows of garbage."""
    from consumers.errors import EXIT_NOTHING_LEARNED, EXIT_OK
    from consumers.reporting import format_summary, write_plot

    out = sys.stderr if predictions == "-" else sys.stdout
    print(format_summary(result.snapshot, resumed_from=result.resumed_from, reason=result.reason),
          file=out)
    if plot:
        write_plot(curve, plot)
        print(f"plot:            {plot}", file=out)
    out.flush()
    if result.failure:
        logger.error("%s", result.failure)
        return EXIT_NOTHING_LEARNED
    return EXIT_OK


def _check_target(path: str, fmt: str, target: str) -> None:
    """A CSV whose header lacks the target: exit 2 before learning anything."""
    from consumers.columnar.source import input_fields
    from consumers.errors import ConfigError
    from consumers.schema import unknown_target

    fields = input_fields(path, fmt)
    if fields is not None and target not in fields:
        raise ConfigError("fields.target", unknown_target(target, fields))


#: Rows per batch when a plot is asked for: its curve has one point a batch.
PLOT_BATCH_ROWS = 25


# -- commands ----------------------------------------------------------------------------------


def _input_path(settings) -> str:
    """The input of replay, predict or produce as `consumers.columnar.paths` reads it (a
    bundled log resolved); a missing or unreadable one is a config error naming it."""
    from consumers.columnar import expand
    from consumers.config import resolve_data_path
    from consumers.errors import ConfigError

    path = settings.file.path
    source = path if path == "-" else str(resolve_data_path(path))
    try:
        expand(source)
    except (FileNotFoundError, ValueError) as exc:
        raise ConfigError("file.path", str(exc)) from None
    return source


def cmd_replay(settings) -> int:
    import dataclasses

    from consumers.reporting import MSECurve, ProgressBar, baseline_warning
    from consumers.runner import Reports
    from consumers.wiring import build_runner, replay_sinks, replay_source, start_run

    path = _input_path(settings)
    name = Path(path).name
    run = settings.run
    curve = MSECurve() if run.plot else None
    with start_run(settings, {"kind": "file", "name": name}) as start:
        _check_target(path, settings.file.format, start.learned.encoder.target)
        with replay_sinks(run.predictions) as sinks, build_runner(
            settings, start, replay_source(settings, path, start), sinks=sinks,
            reports=Reports(progress=ProgressBar(run.progress, desc=name), curve=curve),
            batch_size=min(run.batch_size, PLOT_BATCH_ROWS) if run.plot else None,
        ) as runner, _graceful(runner):
            result = runner.run()
    if result.failure is None and baseline_warning(result.snapshot):
        # a batch job whose model a constant beats has learned nothing to use: not a success
        snap = result.snapshot
        result = dataclasses.replace(result, failure=(
            f"learned nothing better than a constant: the model's rolling MSE "
            f"{snap.rolling_mse:.4g} is above that of always predicting the mean target "
            f"({snap.baseline_rolling_mse:.4g}); see the warning above"))
    return _print_summary(result, run.plot, curve, run.predictions)


def _message_key(value: Any, field: str | None) -> bytes | None:
    from collections.abc import Mapping

    if field is None:
        return None
    if not isinstance(value, Mapping):
        import orjson

        try:
            value = orjson.loads(value) if value else None
        except orjson.JSONDecodeError:
            return None
    if not isinstance(value, Mapping) or value.get(field) is None:
        return None
    key = value[field]
    if isinstance(key, float) and key.is_integer():
        key = int(key)
    return str(key).encode("utf-8")


def _checked_key_field(rows: Iterator[Any], path: str, fmt: str, key_field: str
                       ) -> Iterator[Any]:
    """``rows``, once the ``--key-field`` is known to be a column of the CSV header or a field
    of the first record; else exit 2 before any connection (every message would go keyless)."""
    import orjson

    from consumers.columnar.source import input_fields
    from consumers.errors import ConfigError
    from consumers.schema import unknown_target

    fields = input_fields(path, fmt)
    first = next(rows, None)
    if fields is None and first is not None:
        with contextlib.suppress(orjson.JSONDecodeError, TypeError):
            record = orjson.loads(first) if isinstance(first, bytes) else first
            fields = list(record) if isinstance(record, dict) else None
    if fields is not None and key_field not in fields:
        raise ConfigError("stream.key_field", unknown_target(key_field, fields, "key field"))
    return rows if first is None else itertools.chain([first], rows)


def cmd_produce(settings) -> int:
    from consumers.columnar import expand, format_of
    from consumers.columnar.source import paced_values
    from consumers.errors import ConfigError

    stream = settings.stream
    topic = _require(stream.topic, "stream.topic", "--topic")
    path = _input_path(settings)
    fmt = settings.file.format
    if fmt == "parquet" or fmt == "auto" and "parquet" in {
            format_of(p) for p in expand(path) if p != "-"}:
        raise ConfigError("file.format", "produce sends CSV or JSON Lines rows; Parquet is "
                                         "read by replay and predict only")
    records = paced_values(path, fmt, settings.file.pace_field, settings.file.speed)
    with contextlib.closing(records):
        rows = records if stream.key_field is None else \
            _checked_key_field(records, path, fmt, stream.key_field)
        return _send_rows(settings, topic, rows)


def _send_rows(settings, topic: str, rows: Iterator[Any]) -> int:
    """``produce``: send ``rows`` to ``topic``, one message each; the exit code."""
    from kafka.errors import KafkaError

    from consumers.errors import BrokerUnavailableError
    from consumers.sinks import make_producer, value_bytes
    from consumers.topics import ensure_topic

    stream = settings.stream
    kw = settings.kafka.client_kwargs()
    ensure_topic(kw, topic, stream.partitions, stream.replication_factor,
                 timeout=stream.broker_timeout)
    producer = make_producer(kw, bootstrap_timeout=stream.broker_timeout)
    failures: list[BaseException] = []
    sent = 0
    try:
        for value in itertools.islice(rows, settings.run.max_messages):
            producer.send(topic, value=value_bytes(value),
                          key=_message_key(value, stream.key_field)).add_errback(failures.append)
            sent += 1
        try:
            producer.flush(timeout=stream.broker_timeout)
        except KafkaError as exc:
            raise BrokerUnavailableError(f"messages not acknowledged: {exc}") from None
    finally:
        producer.close(timeout=5)
    if failures:
        print(f"{sent - len(failures)} of {sent} messages sent to {topic}; "
              f"first error: {failures[0]}", file=sys.stderr)
        return 1
    print(f"{sent} messages sent to {topic}")
    return 0


def cmd_consume(settings) -> int:
    from consumers.kafka_source import instance_id_for
    from consumers.reporting import LogLine, MSECurve
    from consumers.runner import Reports
    from consumers.wiring import (
        build_runner,
        kafka_sinks,
        kafka_source,
        mixing,
        serving_metrics,
        start_run,
    )

    stream, run = settings.stream, settings.run
    topic = _require(stream.topic, "stream.topic", "--topic")
    _require(stream.group, "stream.group", "--group")
    ckpt_path = _require(run.checkpoint, "run.checkpoint", "--checkpoint")
    kw = settings.kafka.client_kwargs()
    worker_id = instance_id_for(ckpt_path)
    curve = MSECurve() if run.plot else None
    with start_run(settings, {"kind": "kafka", "topic": topic}) as start:
        if start.checkpoint is not None:
            logger.info("resuming from %s: %d updates, offsets %s", ckpt_path,
                        start.learned.model.n_updates, start.checkpoint.offsets)
        with kafka_sinks(stream, kw) as sinks, mixing(stream, kw, worker_id) as mixer, \
                build_runner(settings, start, kafka_source(settings, start, kw, worker_id),
                             sinks=sinks, poll_timeout=stream.poll_timeout, after_batch=mixer,
                             reports=Reports(log_line=LogLine(run.log_every_seconds),
                                             curve=curve, fields_log_level=logging.DEBUG),
                             ) as runner, \
                serving_metrics(runner, run, mixer), _graceful(runner):
            result = runner.run()
    return _print_summary(result, run.plot, curve)


def cmd_model(settings, as_json: bool = False) -> int:
    import json

    from consumers.mixing import mix
    from consumers.model_topic import read_models

    topic = _require(settings.stream.model_topic, "stream.model_topic", "--topic")
    table = read_models(settings.kafka.client_kwargs(), topic,
                        timeout=settings.stream.broker_timeout)
    mixed = mix(table.latest.values())
    doc = {
        "weights": mixed.weights if mixed else {}, "intercept": mixed.intercept if mixed else None,
        "samples": mixed.samples if mixed else 0,
        "workers": {w: {"version": s.version, "samples": s.samples}
                    for w, s in sorted(table.latest.items())},
    }
    if as_json:
        print(json.dumps(doc, indent=1))
        return 0
    print(f"workers:         {len(doc['workers'])}")
    for w, info in doc["workers"].items():
        print(f"  {w}  version {info['version']}  samples {info['samples']}")
    print(f"total samples:   {doc['samples']}")
    print(f"intercept:       {doc['intercept']}")
    for name, value in sorted(doc["weights"].items()):
        print(f"weight {name}: {value!r}")
    return 0


def cmd_predict(settings, output: str) -> int:
    from consumers.errors import EXIT_NOTHING_LEARNED
    from consumers.predict import load_learned, score_file

    path = _input_path(settings)
    model_path = _require(settings.run.checkpoint, "run.checkpoint", "--checkpoint")
    model, encoder = load_learned(model_path)
    scores = score_file(model, encoder, path, output, fmt=settings.file.format)
    refused = "".join(f", {code}={n}" for code, n in sorted(scores.refused.items()))
    print(f"scored {scores.scored} of {scores.rows} rows{refused}; wrote {output}",
          file=sys.stderr)
    if scores.rows and not scores.scored:
        logger.error("no row could be scored: every row was refused (%s)",
                     refused.lstrip(", ") or "see the output's reason column")
        return EXIT_NOTHING_LEARNED
    unknown = ", ".join(repr(name) for name in scores.unknown)
    if scores.scored and scores.featureless == scores.scored:
        learned = ", ".join(repr(name) for name in itertools.islice(model.weights, 5))
        logger.error("no row holds a feature the model learned, so every prediction is its "
                     "intercept alone: is this the file and the checkpoint meant? (the model's "
                     "features: %s...; the input's: %s)", learned, unknown or "none")
        return EXIT_NOTHING_LEARNED
    if scores.featureless:
        logger.warning("%d of %d rows hold no feature the model learned: their prediction is "
                       "the intercept alone", scores.featureless, scores.scored)
    if unknown:
        logger.warning("the input has features the model never learned, which count 0: %s",
                       unknown)
    return 0


#: The cyclic garbage collector's first threshold while a command runs (CPython's is 700). A run
#: holds each batch's parsed events, thousands of dicts and lists, until reference counting frees
#: them: at 700 the collector walked every batch again and again and pushed it into the older
#: generations, whose full collections then walked all the imported libraries' objects too
#: (about 15% of the CPU of a replay of nested JSON events). Cycles are still collected.
GC_YOUNG_THRESHOLD = 50_000


@contextlib.contextmanager
def _collector_sized_for_batches() -> Iterator[None]:
    """The collector at `GC_YOUNG_THRESHOLD` for a command, as it was after."""
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], GC_YOUNG_THRESHOLD), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _one_blas_thread() -> None:
    """One OpenBLAS thread unless the environment says otherwise (before numpy loads): numpy's
    and scipy's import-time checks wake a thread per core that then spins for about 0.2 s on
    the cores the run needs, and no command does dense algebra large enough to share."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


COMMANDS = {"replay": (cmd_replay, "replay"), "predict": (cmd_predict, "replay"),
            "produce": (cmd_produce, "kafka"),
            "consume": (cmd_consume, "kafka"), "model": (cmd_model, "kafka")}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``online-lr`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose, args.quiet, args.log_format)
    _one_blas_thread()
    with _collector_sized_for_batches():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    command, config_name = COMMANDS[args.command]
    from consumers.errors import ConsumersError

    try:
        from consumers.config import load_settings

        from consumers.extras import check_extras

        settings = load_settings(config_name, args.config, _overrides(args))
        check_extras(settings)
        if args.command == "model":
            return cmd_model(settings, as_json=args.json)
        if args.command == "predict":
            return cmd_predict(settings, args.output)
        return command(settings)
    except ConsumersError as exc:
        print(f"online-lr {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:
        if type(exc).__module__.split(".")[0] not in ("kafka", "confluent_kafka", "cimpl"):
            raise
        print(f"online-lr {args.command}: Kafka error: {exc!r}", file=sys.stderr)
        from consumers.errors import EXIT_BROKER

        return EXIT_BROKER


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
