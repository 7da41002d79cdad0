"""Score a file with a learned model: ``online-lr predict FILE --checkpoint C --output OUT``.

The model comes from a checkpoint of ``replay``/``consume`` (verified like any checkpoint, never
locked: a running consumer's checkpoint can be read) or from a model file written by
`online_lr.SGDRegressor.save`. Its features are the checkpoint's schema, or the model's weight
names. Each input row goes through the decoder a learning run uses, so a row is refused for the
same reasons; the target, if the row has one, is not read.

The output is a CSV with one line per input row, in input order: ``row`` (the row's index in the
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

import contextlib
import csv
import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from consumers.errors import CheckpointError, ConfigError
from consumers.records import Reason

__all__ = ["load_learned", "score_file"]

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


@contextlib.contextmanager
def _output(path: str) -> Iterator[TextIO]:
    if path == "-":
        yield sys.stdout
        return
    with open(path, "w", encoding="utf-8", newline="") as f:
        yield f


def score_file(model: Any, features: tuple[str, ...], path: str | Path, output: str,
               fmt: str = "auto", batch_size: int = 1000) -> tuple[int, int, dict[str, int]]:
    """Write the predictions of every row of ``path`` to ``output`` (CSV; ``"-"``: stdout).

    Returns ``(rows scored, rows read, {reason code: rows refused})``.
    """
    from consumers.decode import decode_batch
    from consumers.file_source import FileSource
    from consumers.schema import Schema

    schema = Schema(target=_NO_TARGET, features=features)
    scored = rows = 0
    reasons: Counter[str] = Counter()
    with FileSource(path, fmt=fmt) as source, _output(output) as out:
        writer = csv.writer(out)
        writer.writerow(["row", "prediction", "reason"])
        while (messages := source.poll(batch_size, 0.0)) is not None:
            batch = decode_batch([m.value for m in messages], schema, None)
            lines: list[list[object]] = [[m.offset, "", ""] for m in messages]
            for k, i in enumerate(batch.rows):
                try:
                    lines[i][1] = model.predict_one(dict(zip(features, batch.X[k].tolist())))
                except ValueError as exc:  # DivergenceError: the prediction overflows
                    lines[i][2] = f"{Reason.MODEL_REFUSED}: {exc}"
                    reasons[Reason.MODEL_REFUSED] += 1
                    scored -= 1
            for i, bad in batch.bad:
                lines[i][2] = str(bad)
                reasons[bad.reason] += 1
            writer.writerows(lines)
            scored += len(batch)
            rows += len(messages)
    return scored, rows, dict(reasons)
