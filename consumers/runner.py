"""The prequential loop shared by `online-lr replay` and `online-lr consume`.

For every batch a source delivers: decode and encode it in one pass (`Batch.decode`, with the
run's `online_lr.encoding.FeatureEncoder`), let the model predict each valid row and learn the
labelled ones in order (`consumers.learning.learn_encoded`, one step per row, the same model as
a `learn_one` loop), count what the model refused, publish the predictions, dead-letter the
refused messages, and only then move the source's position past the batch. The errors are the
model's own (its running and rolling MSE), never recomputed here. A file replay and a Kafka
consumer that see the same rows in the same order therefore learn the same model, whatever
their batch sizes.

A runner is built whole (`consumers.wiring.build_runner` builds it from the settings): its
collaborators and hooks come in its constructor, grouped in small records (`Reading`,
`Checkpointing`, `Sinks`, `Reports`); it opens its source itself (`OpenSource`), handing it the
checkpoint to take before partitions are revoked.

Checkpoints (`Runner.checkpoint`) are written when ``every_messages`` messages or
``every_seconds`` seconds have passed since the last one, before partitions are revoked, and at
the end. Steps, in order:

1. flush the outputs (the checkpoint may only cover acknowledged outputs);
2. write model + positions + encoder + counters atomically (`consumers.checkpoint`);
3. commit the same offsets to the consumer group (informative; main thread only).

A checkpoint is only ever taken between batches, when the model and the positions agree; after
an unexpected error inside a batch none is taken any more (not even by the rebalance listener
while the consumer closes), so the previous checkpoint stays the truth.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, NamedTuple, Protocol

import numpy as np

from consumers.checkpoint import Checkpoint, CheckpointStore
from consumers.decode import DEFAULT_MAX_BYTES, DecodedBatch, parse_value
from consumers.errors import BrokerUnavailableError, CheckpointError, ConfigError, SinkError
from consumers.learning import learn_encoded
from consumers.records import BadRecord, Message, Reason
from consumers.reporting import LogLine, MSECurve, ProgressBar, Snapshot, baseline_warning
from consumers.schema import date_warning, field_warnings, unknown_target, unmatched_patterns

__all__ = [
    "Batch", "Checkpointing", "Counters", "DeadLetters", "Learned", "OpenSource", "Outputs",
    "Reading", "Reports", "RevokeHook", "RunResult", "Runner", "Sinks", "Source",
]

logger = logging.getLogger(__name__)


class Batch(Protocol):
    """What a source's `Source.poll` returns: its messages, in order, that decode themselves.

    `consumers.kafka_base.MessageBatch` (both Kafka clients: values taken in bulk, messages
    built on demand), `consumers.columnar.source.DecodedMessages` (already encoded by the source,
    with the run's encoder), `consumers.decode.MessageList` (a list of messages, e.g. in tests).
    """

    def __len__(self) -> int: ...
    def __getitem__(self, i: int) -> Message: ...
    def decode(self, encoder: Any, max_bytes: int | None) -> DecodedBatch: ...


class Source(Protocol):
    """What the runner reads from (`ColumnarSource`, `KafkaSource`, `ConfluentSource`).

    ``poll`` returns a `Batch` (empty: nothing yet), or None once the input ended
    (``end_reason`` says why). ``lock`` guards the source's positions; the runner holds it
    while it changes the model, so a source whose callbacks run on another thread (Kafka's
    rebalance listener) sees model and positions agree.
    """

    kind: str
    end_reason: str | None
    lock: threading.RLock

    def poll(self, max_records: int, timeout: float = 1.0) -> Batch | None: ...
    def advance(self, messages: Batch) -> None: ...
    def offsets(self) -> dict[str, int]: ...
    def describe(self) -> dict: ...
    def lag(self) -> int | None: ...
    def commit(self, offsets: dict[str, int]) -> None: ...
    def close(self) -> None: ...


#: Called by a source before partitions are taken away: the runner checkpoints (False: none
#: could be written, the previous one stays).
RevokeHook = Callable[[], bool]

#: Opens the runner's source, given the runner's `RevokeHook` (a file source ignores it).
OpenSource = Callable[[RevokeHook], Source]


class Outputs(Protocol):
    def add_predictions(
        self, messages: Sequence[Message], predictions: Sequence[float]
    ) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


class DeadLetters(Protocol):
    def add(self, items: Sequence[tuple[Message, BadRecord]]) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


@dataclass
class Counters:
    """Totals over the life of a checkpoint (saved in it). The refused messages are counted
    once, by reason (``bad_by_reason``); ``bad`` and ``diverged`` are read from it. The errors
    are the model's own (``running_mse``...), saved with it."""

    messages: int = 0
    learned: int = 0
    predicted_only: int = 0
    bad_by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def bad(self) -> int:
        return sum(self.bad_by_reason.values())

    @property
    def diverged(self) -> int:
        return self.bad_by_reason.get(Reason.DIVERGED, 0)

    def to_dict(self) -> dict:
        return {**asdict(self), "bad": self.bad, "diverged": self.diverged}

    @classmethod
    def from_dict(cls, d: dict) -> Counters:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    def minus(self, other: Counters) -> Counters:
        return Counters(**{f.name: _minus(getattr(self, f.name), getattr(other, f.name))
                           for f in fields(self)})


def _minus(a, b):
    if isinstance(a, dict):
        return {k: v - b.get(k, 0) for k, v in a.items() if v != b.get(k, 0)}
    return a - b


class Learned(NamedTuple):
    """What a run starts from (`consumers.wiring.restore`): the model, its encoder and the
    totals so far."""

    model: Any
    encoder: Any
    counters: Counters


@dataclass(frozen=True)
class Reading:
    """How the runner reads: messages per poll (``batch_size``), a stop after
    ``max_messages`` in this run, the size limit of a value, the wait of one poll."""

    batch_size: int = 500
    max_messages: int | None = None
    max_message_bytes: int | None = DEFAULT_MAX_BYTES
    poll_timeout: float = 1.0


@dataclass(frozen=True)
class Checkpointing:
    """Where checkpoints go (``store``; None: none) and their period (either may be None). The
    defaults of the period are the settings' (`consumers.config`), passed by
    `consumers.wiring.build_runner`."""

    store: CheckpointStore | None
    every_messages: int | None
    every_seconds: float | None


@dataclass(frozen=True)
class Sinks:
    """Where predictions and refused messages go (either may be None), and the seconds they
    may keep failing to flush before the run gives up (``give_up_after``: broker gone)."""

    predictions: Outputs | None = None
    dead_letters: DeadLetters | None = None
    give_up_after: float = 60.0


@dataclass(frozen=True)
class Reports:
    """What the runner reports to: a progress bar, periodic log lines, the plot's curve (any
    may be None); the level of the start-up report of what each field becomes (INFO for a
    replay, DEBUG for a consumer); the seconds between the checks that warn when the model is
    worse than its baseline or most rows are refused (also checked at the end)."""

    progress: ProgressBar | None = None
    log_line: LogLine | None = None
    curve: MSECurve | None = None
    fields_log_level: int = logging.INFO
    check_every: float = 10.0


@dataclass(frozen=True)
class RunResult:
    """How a run ended; ``failure`` says why it learned nothing (from the rows read, or, for a
    new model, from an input that had none)."""

    snapshot: Snapshot
    reason: str
    totals: Counters
    resumed_from: int
    failure: str | None = None


class Runner:
    """Predict → score → learn → publish → advance, over batches of a `Source`.

    Parameters
    ----------
    learned
        Model, encoder and totals to start from (fresh, or the checkpoint's:
        `consumers.wiring.restore`).
    open_source
        Opens the source, positioned where the model stopped, given the runner's checkpoint
        hook for partitions about to be revoked; the runner closes it (`close`).
    reading, checkpointing, sinks, reports
        How to read (`Reading`), checkpoint (`Checkpointing`), publish (`Sinks`) and report
        (`Reports`); None: the record's defaults.
    after_batch
        Called with the runner after each batch, under the source's lock (parameter mixing:
        whatever it does to the model is checkpointed with the offsets of the batches before
        it).
    clock
        Injected for tests.
    """

    def __init__(
        self,
        learned: Learned,
        open_source: OpenSource,
        *,
        reading: Reading | None = None,
        checkpointing: Checkpointing | None = None,
        sinks: Sinks | None = None,
        reports: Reports | None = None,
        after_batch: Callable[[Runner], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.model, self.encoder, self.counters = learned
        self._start_counters = Counters.from_dict(self.counters.to_dict())
        self.reading = reading or Reading()
        self.checkpointing = checkpointing or Checkpointing(None, None, None)
        self.sinks = sinks or Sinks()
        self.reports = reports or Reports()
        self.after_batch = after_batch
        self._clock = clock
        self._first_fields: list[str] | None = None  # of the run's first valid message
        self._event_time: float | None = None  # latest event timestamp of this run
        self._first_detail: dict[str, str] = {}  # reason code -> its first refusal, in full
        self._warned: set[str] = set()
        self._last_check = clock()
        self._stop = False
        self._broken = False
        self._dirty = False
        self._since_checkpoint = 0
        self._last_checkpoint = clock()
        self._outputs_failing_since: float | None = None
        self._started = clock()
        self.checkpoints = 0  # written by this run
        self.source = open_source(lambda: self.checkpoint(commit=False))
        # Held while the model and the positions change (process) or are saved (checkpoint).
        self.lock = self.source.lock

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the source (a Kafka consumer leaves its group: a last revocation checkpoint)."""
        self.source.close()

    # -- control ------------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Finish the current batch, checkpoint and return (safe from a signal handler)."""
        self._stop = True

    @property
    def stopping(self) -> bool:
        """Whether `request_stop` was called."""
        return self._stop

    @property
    def this_run(self) -> Counters:
        return self.counters.minus(self._start_counters)

    def snapshot(self) -> Snapshot:
        c = self.this_run
        m = self.model
        return Snapshot(
            messages=c.messages, learned=c.learned, predicted_only=c.predicted_only, bad=c.bad,
            diverged=c.diverged, bad_by_reason=c.bad_by_reason,
            running_mse=float(m.running_mse), rolling_mse=float(m.rolling_mse),
            baseline_running_mse=float(m.baseline_running_mse),
            baseline_rolling_mse=float(m.baseline_rolling_mse), updates=int(m.n_updates),
            window=int(m.mse_window),
            learning_rate=float(m.learning_rate_now), elapsed=self._clock() - self._started,
            lag=self.source.lag(), checkpoints=self.checkpoints,
            missing_by_field=self.encoder.missing_counts(), event_time=self._event_time,
        )

    # -- the loop -----------------------------------------------------------------------------

    def run(self) -> RunResult:
        """Process the source until it ends, goes idle, ``max_messages`` or `request_stop`."""
        self._started = self._clock()
        reason = "stopped"
        try:
            while not self._stop:
                budget = self.reading.batch_size
                if self.reading.max_messages is not None:
                    budget = min(budget, self.reading.max_messages - self.this_run.messages)
                    if budget <= 0:
                        reason = "max_messages"
                        break
                messages = self.source.poll(budget, self.reading.poll_timeout)
                if messages is None:
                    reason = self.source.end_reason or "end of input"
                    break
                if messages:
                    self.process(messages)
                    if self.counters.messages == self._start_counters.messages + len(messages):
                        # start-up cost, as bench/bench_consume.py measures it (with -v)
                        logger.debug("first batch (%d messages) handled %.3fs into the run",
                                     len(messages), self._clock() - self._started)
                    if self.after_batch is not None:
                        with self.lock:  # e.g. parameter mixing: checkpointed with the offsets
                            self.after_batch(self)
                    if self.reports.progress is not None:
                        self.reports.progress.update(len(messages), self.snapshot)
                if self._checkpoint_due():
                    self.checkpoint()
                if self.reports.log_line is not None:
                    self.reports.log_line.maybe(self.snapshot)
                if self._clock() - self._last_check >= self.reports.check_every:
                    self._check(self.snapshot(), final=False)
        except BrokerUnavailableError:
            self._last_words()
            raise
        self.checkpoint(final=True)
        snap = self.snapshot()
        if self.reports.progress is not None:
            self.reports.progress.close(snap)
        if self.reports.log_line is not None:
            self.reports.log_line.maybe(lambda: snap, force=True)
        self._check(snap, final=True)
        return RunResult(snap, reason, self.counters, self._start_counters.messages,
                         failure=self._nothing_learned(snap))

    # -- saying what goes wrong ---------------------------------------------------------------

    def _warn(self, key: str, text: str, final: bool) -> None:
        """Log ``text`` once during the run, and again at the end if it still holds."""
        if final or key not in self._warned:
            self._warned.add(key)
            logger.warning("%s", text)

    def _check(self, snap: Snapshot, final: bool) -> None:
        self._last_check = self._clock()
        worse = baseline_warning(snap)
        if worse:
            self._warn("baseline", worse, final)
        elif "baseline" in self._warned and not final:
            self._warned.discard("baseline")
            logger.info("the model is better than its baseline again (rolling MSE %.4g vs %.4g)",
                        snap.rolling_mse, snap.baseline_rolling_mse)
        for path, text in field_warnings(self.encoder).items():
            self._warn(f"field {path}", text, final)
        if snap.messages and snap.bad * 2 > snap.messages:
            self._warn("refused", f"{snap.bad} of {snap.messages} rows were refused; "
                                  f"top reasons: {self._top_reasons(snap)}", final)

    def _top_reasons(self, snap: Snapshot, top: int = 3) -> str:
        ranked = sorted(snap.bad_by_reason.items(), key=lambda kv: -kv[1])[:top]
        return "; ".join(f"{code} x{n} (first: {self._first_detail.get(code, code)})"
                         for code, n in ranked)

    def _nothing_learned(self, snap: Snapshot) -> str | None:
        """Why a run that read messages learned nothing it could use, or None.

        Prediction-only messages scored by a model learned before are a run's purpose (labels
        come later); with a model that never learned anything they are a mistake.
        """
        if not snap.messages:
            if self._start_counters.messages or snap.updates:
                return None  # resumed at the end of what was there: nothing new to learn
            where = self.source.describe()
            if where.get("kind") == "file":
                return f"learned nothing: read no row from {where.get('name')!r} (an empty " \
                       f"input, or a CSV header alone)"
            return f"learned nothing: read no message from topic {where.get('topic')!r} (an " \
                   f"empty topic, or not the one meant: check --topic)"
        if snap.learned and not self.model.weights and not self._start_counters.messages:
            fields = ", ".join(repr(f) for f in self._first_fields or ())
            return (f"learned no feature: no row gave one, so the model predicts the mean target "
                    f"alone (check --include, --ignore and --features; fields of the first row: "
                    f"{fields})")
        if snap.learned or (snap.predicted_only and snap.updates):
            return None
        if snap.bad == snap.messages:
            return f"learned nothing: all {snap.messages} rows were refused; " \
                   f"top reasons: {self._top_reasons(snap)}"
        fields = ", ".join(repr(f) for f in self._first_fields or ())
        return (f"learned nothing: none of the {snap.messages} rows had a value for the target "
                f"{self.encoder.target!r} (fields of the first row: {fields})")

    def _report_fields(self, value: Any) -> None:
        """Log what each field of the first row becomes (features, target, timestamp, nothing),
        warn about date/time strings that become categories; check the target."""
        obj = parse_value(value, None)
        if isinstance(obj, BadRecord):  # pragma: no cover - it was just decoded
            return
        self._first_fields = list(obj)
        encoder, level = self.encoder, self.reports.fields_log_level
        logger.log(level, "target %r; features so far: %d", encoder.target,
                   len(encoder.feature_names))
        for name, field_value in obj.items():
            if name == encoder.target:
                what = "the target"
            elif name == encoder.timestamp:
                what = "the timestamp (never a feature)"
            elif encoder.transform is not None:
                continue  # the transform sees whole events: a field alone says nothing
            else:
                try:
                    features = encoder.transform_one({name: field_value})
                except ValueError as exc:
                    features, what = {}, str(exc)
                else:
                    what = ", ".join(features) or "no feature (ignored, not included, or empty)"
                dates = date_warning(name, field_value) if features else None
                if dates is not None:
                    logger.warning("%s", dates)
            logger.log(level, "field %r: %s", name, what)
        if encoder.transform is None:
            for text in unmatched_patterns(encoder, obj):
                logger.warning("%s", text)
        target = encoder.target
        if target not in obj and target.split(".")[0] not in obj:
            message = unknown_target(target, list(obj))
            if "did you mean" in message:
                raise ConfigError("fields.target", message)
            fields = ", ".join(repr(f) for f in obj) or "none"
            logger.warning("the first row has no value for the target %r (its fields: %s): rows "
                           "without it are predicted, not learned", target, fields)

    def _last_words(self) -> None:
        """Broker gone for good: keep what can be kept (the state is consistent here)."""
        try:
            self.checkpoint(final=True, commit=False)
        except (SinkError, CheckpointError, BrokerUnavailableError) as exc:
            logger.error("no final checkpoint (the previous one stays): %s", exc)
        if self.reports.progress is not None:
            self.reports.progress.close()

    # -- one batch ----------------------------------------------------------------------------

    def process(self, messages: Batch) -> None:
        """Decode, predict, learn, publish and dead-letter one batch, then advance the source."""
        with self.lock:
            try:
                self._process(messages)
            except BaseException:
                # The model may hold part of this batch while the positions do not: never
                # checkpoint this state (the previous checkpoint stays the truth).
                self._broken = True
                raise

    def _process(self, messages: Batch) -> None:
        batch = messages.decode(self.encoder, self.reading.max_message_bytes)
        if self._first_fields is None and len(batch):
            self._report_fields(messages[int(batch.rows[0])].value)
        predictions, refused = learn_encoded(self.model, self.encoder.feature_names,
                                             batch.encoded)
        times = batch.encoded.timestamps
        if len(times) and not np.isnan(times).all():
            latest = float(np.nanmax(times))
            self._event_time = latest if self._event_time is None else max(latest,
                                                                           self._event_time)
        ok = np.ones(len(batch), dtype=bool)
        for k, _ in refused:
            ok[k] = False
        c = self.counters
        c.messages += len(messages)
        c.learned += int((batch.learn & ok).sum())
        c.predicted_only += int((~batch.learn).sum())
        for _, r in batch.bad + refused:
            c.bad_by_reason[r.reason] = c.bad_by_reason.get(r.reason, 0) + 1
            self._first_detail.setdefault(r.reason, str(r))
        curve = self.reports.curve
        if curve is not None:
            curve.add(self.model.n_updates, float(self.model.rolling_mse),
                      float(self.model.baseline_rolling_mse))
        if self.sinks.predictions is not None and ok.any():
            rows = batch.rows[ok]
            self.sinks.predictions.add_predictions([messages[i] for i in rows], predictions[ok])
        bad = [(i, r) for i, r in batch.bad] + [(int(batch.rows[k]), r) for k, r in refused]
        if bad and self.sinks.dead_letters is not None:
            bad.sort(key=lambda item: item[0])
            self.sinks.dead_letters.add([(messages[i], r) for i, r in bad])
        self.source.advance(messages)
        self._since_checkpoint += len(messages)
        self._dirty = True

    # -- checkpoints --------------------------------------------------------------------------

    def _checkpoint_due(self) -> bool:
        policy = self.checkpointing
        if policy.store is None or not self._dirty:
            return False
        if policy.every_messages is not None and self._since_checkpoint >= policy.every_messages:
            return True
        return (
            policy.every_seconds is not None
            and self._clock() - self._last_checkpoint >= policy.every_seconds
        )

    def _flush_outputs(self) -> None:
        for out in (self.sinks.predictions, self.sinks.dead_letters):
            if out is not None:
                out.flush()

    def checkpoint(self, *, final: bool = False, commit: bool = True) -> bool:
        """Flush outputs, write model + positions atomically, then commit the group offsets.

        Returns False (keeping the previous checkpoint) when the outputs cannot be flushed;
        raises `BrokerUnavailableError` when that has lasted longer than ``output_timeout``.
        ``commit=False`` is for the rebalance listener, which may not block on the consumer.
        """
        if self.checkpointing.store is None or self._broken:
            return False
        with self.lock:
            offsets = self._save(final)
        if offsets is None:
            return False
        if commit:
            self.source.commit(offsets)  # outside the lock: it needs kafka's IO thread
        return True

    def _save(self, final: bool) -> dict[str, int] | None:
        """Steps 1-2 of a checkpoint; the offsets written, or None if postponed."""
        if not self._dirty and not (final and not self.checkpointing.store.path.exists()):
            return self.source.offsets()
        try:
            self._flush_outputs()
        except SinkError as exc:
            now = self._clock()
            if self._outputs_failing_since is None:
                self._outputs_failing_since = now
            logger.warning("checkpoint postponed: %s", exc)
            if now - self._outputs_failing_since > self.sinks.give_up_after or final:
                raise BrokerUnavailableError(
                    f"outputs could not be delivered for {now - self._outputs_failing_since:.0f}s:"
                    f" {exc}"
                ) from None
            return None
        self._outputs_failing_since = None
        offsets = self.source.offsets()
        self.checkpointing.store.save(
            Checkpoint(
                model=self.model.to_dict(),
                offsets=offsets,
                source=self.source.describe(),
                counters=self.counters.to_dict(),
                schema=self.encoder.to_dict(),
            )
        )
        self.checkpoints += 1
        self._dirty = False
        self._since_checkpoint = 0
        self._last_checkpoint = self._clock()
        return offsets
