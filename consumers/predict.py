"""Score a file with a learned model: ``online-lr predict FILE --checkpoint C --output OUT``.

The model comes from a checkpoint of ``replay``/``consume`` (verified like any checkpoint, never
locked: a running consumer's checkpoint can be read) or from a model file written by
`online_lr.SGDRegressor.save`. Rows are encoded by the checkpoint's own
`online_lr.encoding.FeatureEncoder` (so exactly as the run that learned the model encoded them;
a model file has its weight names as the only features). The target, if a row has one, is not
read; a feature the model never learned counts 0.

The output (CSV, JSON Lines or Parquet, by its extension) has one line per input row, in input
order: ``row`` (the row's index in the file), ``prediction`` (empty when the row cannot be
scored) and ``reason`` (empty when scored, else the refusal, e.g. ``nonfinite_feature: 'sqm' is nan``). Nothing is dropped.

In Python, `load_pipeline` gives ``FeatureEncoder | SGDRegressor`` as a River pipeline, which
predicts from a raw event in one call.

>>> import os, tempfile
>>> from online_lr import SGDRegressor
>>> d = tempfile.mkdtemp()
>>> model = SGDRegressor(intercept_init=1.0)
>>> model.set_parameters({"a": 2.0}, 1.0)
>>> model.save(os.path.join(d, "m.json"))
>>> _ = open(os.path.join(d, "in.csv"), "w").write("a,y\\n1,3\\nx,0\\n2,\\n")
>>> m, encoder = load_learned(os.path.join(d, "m.json"))
>>> score_file(m, encoder, os.path.join(d, "in.csv"), os.path.join(d, "out.csv"))
Scores(scored=3, rows=3, refused={}, featureless=1, unknown=('a=x',))
>>> print(open(os.path.join(d, "out.csv")).read().strip())
row,prediction,reason
0,3.0,
1,1.0,
2,5.0,
>>> load_pipeline(os.path.join(d, "m.json")).predict_one({"a": "1.5", "b": "x"})
4.0
>>> for f in os.listdir(d): os.remove(os.path.join(d, f))
>>> os.rmdir(d)
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from consumers.errors import CheckpointError, ConfigError
from consumers.records import Reason

__all__ = ["PredictionsFile", "Scores", "load_learned", "load_pipeline", "score_file",
           "scoring_encoder"]


def scoring_encoder(state: Mapping) -> Any:
    """The encoder of a learning run (its `FeatureEncoder.to_dict`) set up to score: the same
    columns and rules, the target ignored (never read, never a feature)."""
    from online_lr.encoding import FeatureEncoder

    params = dict(state["params"])
    target = params.get("target")
    if target is not None:
        params["target"] = None
        params["ignore"] = [*(params.get("ignore") or ()), target]
    return FeatureEncoder.from_dict({**state, "params": params})


def load_learned(path: str | Path) -> tuple[Any, Any]:
    """The model of a checkpoint or model file, and the encoder its rows go through."""
    from consumers.checkpoint import FORMAT, read_checkpoint
    from consumers.wiring import restored_model
    from online_lr.encoding import FORMAT as ENCODER_FORMAT
    from online_lr.encoding import FeatureEncoder

    path = Path(path)
    try:
        head = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise ConfigError("run.checkpoint", f"no such file: {str(path)!r}") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CheckpointError(f"{str(path)!r} is neither a checkpoint nor a model: {exc}") from None
    what = f"the model of {str(path)!r}"
    try:
        if isinstance(head, dict) and head.get("format") == FORMAT:
            checkpoint = read_checkpoint(path)
            model = restored_model(checkpoint.model, what)
            schema = checkpoint.schema or {}
            if schema.get("format") == ENCODER_FORMAT:
                encoder = scoring_encoder(schema)
            else:  # a checkpoint written before encoders: its numeric features
                encoder = FeatureEncoder(include=list(schema.get("features") or ()) or None)
        else:
            model = restored_model(head, what)
            names = [str(name) for name in model.weights]
            encoder = FeatureEncoder(include=names)
            encoder.learn_one(dict.fromkeys(names, 0.0))  # its columns: the model's features
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{what} cannot be restored: {exc}") from None
    if not model.weights:
        raise CheckpointError(f"{str(path)!r} holds a model that has learned no feature yet")
    return model, encoder


def load_pipeline(path: str | Path) -> Any:
    """``FeatureEncoder | SGDRegressor`` from a checkpoint or model file, as a River pipeline:
    ``load_pipeline(path).predict_one(raw_event)`` encodes the event as the learning run did
    and predicts."""
    model, encoder = load_learned(path)
    return encoder | model


class PredictionsFile:
    """``replay --predictions OUT``: every row's ``row, prediction, reason``, in input order.

    The runner's `Outputs` (the scored rows) and, through `dead_letters`, its dead letters (the
    refused ones, also passed on to ``also``); rows are written once every row before them is
    known, so the file is in input order and holds one line per input row.
    """

    def __init__(self, path: str, also: Any = None):
        from consumers.columnar import open_writer

        self._writer = open_writer(path, field="run.predictions")
        self._also = also
        self._pending: list[tuple[int, float, str | None]] = []

    def add_predictions(self, messages: Any, predictions: Any) -> None:
        self._write_pending()  # the runner hands a batch's scored rows before its refused ones
        self._pending = [(m.offset, float(p), None) for m, p in zip(messages, predictions)]

    @property
    def dead_letters(self) -> PredictionsFile:
        return self

    def add(self, items: Any) -> None:
        """Dead letters: their rows, with no prediction and the reason."""
        self._pending += [(m.offset, math.nan, str(bad)) for m, bad in items]
        if self._also is not None:
            self._also.add(items)

    def _write_pending(self) -> None:
        if self._pending:
            self._pending.sort(key=lambda line: line[0])
            rows, predictions, reasons = zip(*self._pending)
            self._writer.write({"row": rows, "prediction": predictions,
                                "reason": _texts(reasons)})
            self._pending = []

    def flush(self) -> None:
        self._write_pending()

    def close(self) -> None:
        self._write_pending()
        self._writer.close()


def _texts(values: Any) -> Any:
    """A column of text (null where None), typed even when every value is None."""
    import pyarrow as pa

    return pa.array(values, pa.string())


class Scores(NamedTuple):
    """What `score_file` did: rows ``scored`` of the ``rows`` read, the ``refused`` ones by
    reason code, and the scored rows that hold no feature the model learned (``featureless``:
    their prediction is the intercept alone), with the first features of the input the model
    does not know (``unknown``: a file of other columns, or other categories)."""

    scored: int
    rows: int
    refused: dict[str, int]
    featureless: int
    unknown: tuple[str, ...]


#: Unknown features `Scores` names, at most.
_UNKNOWN_NAMED = 5


def score_file(model: Any, encoder: Any, path: str | Path, output: str,
               fmt: str = "auto") -> Scores:
    """Write the predictions of every row of ``path`` to ``output`` (CSV, JSON Lines or
    Parquet by its extension; ``"-"``: CSV on stdout)."""
    import numpy as np

    from consumers.columnar import open_writer
    from consumers.columnar.source import ColumnarSource

    scored = rows = featureless = 0
    reasons: Counter[str] = Counter()
    known, unknown = set(model.weights), dict[str, None]()
    with ColumnarSource(str(path), encoder, fmt=fmt, max_message_bytes=None) as source, \
            open_writer(output, field="--output") as out:
        while (messages := source.poll(1 << 16, 0.0)) is not None:
            batch, n = messages.decode(encoder, None), len(messages)
            names, encoded = encoder.feature_names, batch.encoded
            predictions = np.full(n, np.nan)
            why: list[str | None] = [None] * n
            for k, i in enumerate(batch.rows.tolist()):
                start, end = encoded.indptr[k], encoded.indptr[k + 1]
                x = {names[c]: v for c, v in zip(encoded.indices[start:end].tolist(),
                                                 encoded.values[start:end].tolist())}
                if known.isdisjoint(x):
                    featureless += 1
                if len(unknown) < _UNKNOWN_NAMED:
                    unknown.update((name, None) for name in x if name not in known)
                try:
                    predictions[i] = model.predict_one(x)
                except ValueError as exc:  # DivergenceError: the prediction overflows
                    why[i] = f"{Reason.MODEL_REFUSED}: {exc}"
            for i, bad in batch.bad:
                why[i] = str(bad)
            reasons.update(text.split(":", 1)[0] for text in why if text)
            out.write({"row": np.arange(messages.first, messages.first + n),
                       "prediction": predictions, "reason": _texts(why)})
            scored += n - sum(1 for text in why if text)
            rows += n
            source.advance(messages)
    return Scores(scored, rows, dict(reasons), featureless,
                  tuple(unknown)[:_UNKNOWN_NAMED])
