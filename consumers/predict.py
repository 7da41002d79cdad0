"""Score a file with a learned model: ``online-lr predict FILE --checkpoint C --output OUT``.

The model comes from a checkpoint of ``replay``/``consume`` (verified like any checkpoint, never
locked: a running consumer's checkpoint can be read) or from a model file written by
`online_lr.SGDRegressor.save`. Its features are the checkpoint's schema, or the model's weight
names. Each input row goes through the decoder a learning run uses, so a row is refused for the
same reasons; the target, if the row has one, is not read.

The output (CSV, JSON Lines or Parquet, by its extension) has one line per input row, in input order: ``row`` (the row's index in the
file), ``prediction`` (empty when the row cannot be scored) and ``reason`` (empty when scored,
else the refusal, e.g. ``missing_feature: 'sqm' is absent``). Nothing is dropped.

>>> import os, tempfile
>>> from online_lr import SGDRegressor
>>> d = tempfile.mkdtemp()
>>> model = SGDRegressor(intercept_init=1.0)
>>> model.set_parameters({"a": 2.0}, 1.0)
>>> model.save(os.path.join(d, "m.json"))
>>> _ = open(os.path.join(d, "in.csv"), "w").write("a,y\\n1,3\\nx,0\\n2,\\n")
>>> m, features = load_learned(os.path.join(d, "m.json"))
>>> score_file(m, features, os.path.join(d, "in.csv"), os.path.join(d, "out.csv"))
(2, 3, {'non_numeric_feature': 1})
>>> print(open(os.path.join(d, "out.csv")).read().strip())
row,prediction,reason
0,3.0,
1,,non_numeric_feature: 'a' is string
2,5.0,
>>> for f in os.listdir(d): os.remove(os.path.join(d, f))
>>> os.rmdir(d)
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

from consumers.errors import CheckpointError, ConfigError
from consumers.records import Reason

__all__ = ["PredictionsFile", "load_learned", "score_file"]

#: A target name no row has: every row is predicted, none is learned or refused for its target.
_NO_TARGET = "\x00no target"


def load_learned(path: str | Path) -> tuple[Any, tuple[str, ...]]:
    """The model of a checkpoint or model file, and the features it expects, in order."""
    from consumers.checkpoint import FORMAT, read_checkpoint
    from online_lr import SGDRegressor

    path = Path(path)
    try:
        head = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise ConfigError("run.checkpoint", f"no such file: {str(path)!r}") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CheckpointError(f"{str(path)!r} is neither a checkpoint nor a model: {exc}") from None
    try:
        if isinstance(head, dict) and head.get("format") == FORMAT:
            checkpoint = read_checkpoint(path)
            model = SGDRegressor.from_dict(checkpoint.model)
            features = (checkpoint.schema or {}).get("features")
        else:
            model = SGDRegressor.from_dict(head)
            features = list(model.weights)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"the model of {str(path)!r} cannot be restored: {exc}") from None
    if not features:
        raise CheckpointError(f"{str(path)!r} holds a model that has learned no feature yet")
    return model, tuple(str(f) for f in features)


class PredictionsFile:
    """``replay --predictions OUT``: every row's ``row, prediction, reason``, in input order.

    The runner's `Outputs` (the scored rows) and, through `dead_letters`, its dead letters (the
    refused ones, also passed on to ``also``); rows are written once every row before them is
    known, so the file is in input order and holds one line per input row.
    """

    def __init__(self, path: str, also: Any = None):
        from consumers.columnar import open_writer

        self._writer = open_writer(path)
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
            self._writer.write({"row": rows, "prediction": predictions, "reason": reasons})
            self._pending = []

    def flush(self) -> None:
        self._write_pending()

    def close(self) -> None:
        self._write_pending()
        self._writer.close()


def score_file(model: Any, features: tuple[str, ...], path: str | Path, output: str,
               fmt: str = "auto") -> tuple[int, int, dict[str, int]]:
    """Write the predictions of every row of ``path`` to ``output`` (CSV, JSON Lines or
    Parquet by its extension; ``"-"``: CSV on stdout).

    Returns ``(rows scored, rows read, {reason code: rows refused})``.
    """
    import numpy as np

    from consumers.columnar import ColumnarReader, open_writer
    from consumers.schema import Schema

    schema = Schema(target=_NO_TARGET, features=features)
    scored = rows = 0
    reasons: Counter[str] = Counter()
    with ColumnarReader(str(path), schema, fmt=fmt, max_message_bytes=None) as reader, \
            open_writer(output) as out:
        for batch in reader:
            decoded, n = batch.decoded, batch.records
            predictions = np.full(n, np.nan)
            why: list[str | None] = [None] * n
            names = decoded.columns or features
            for k, i in enumerate(decoded.rows.tolist()):
                try:
                    predictions[i] = model.predict_one(dict(zip(names, decoded.X[k].tolist())))
                except ValueError as exc:  # DivergenceError: the prediction overflows
                    why[i] = f"{Reason.MODEL_REFUSED}: {exc}"
            for i, bad in decoded.bad:
                why[i] = str(bad)
            reasons.update(text.split(":", 1)[0] for text in why if text)
            out.write({"row": np.arange(batch.start.row, batch.end.row), "prediction": predictions,
                       "reason": why})
            scored += n - sum(1 for text in why if text)
            rows += n
    return scored, rows, dict(reasons)
