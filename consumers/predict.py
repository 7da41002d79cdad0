"""Score a file with a learned model: ``online-lr predict FILE --checkpoint C --output OUT``.

The model comes from a checkpoint of ``replay``/``consume`` (verified like any checkpoint, never
locked: a running consumer's checkpoint can be read) or from a model file written by
`online_lr.SGDRegressor.save`. Rows are encoded by the checkpoint's own
`online_lr.encoding.FeatureEncoder` (so exactly as the run that learned the model encoded them;
a model file has its weight names as the only features). The target, if a row has one, is not
read; a feature the model never learned counts 0.

The output is a CSV with one line per input row, in input order: ``row`` (the row's index in the
file), ``prediction`` (empty when the row cannot be scored) and ``reason`` (empty when scored,
else the refusal, e.g. ``nonfinite_feature: 'sqm' is nan``). Nothing is dropped.

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
(3, 3, {})
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

import contextlib
import csv
import json
import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

from consumers.errors import CheckpointError, ConfigError
from consumers.records import Reason

__all__ = ["load_learned", "load_pipeline", "score_file", "scoring_encoder"]


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
    from online_lr import SGDRegressor
    from online_lr.encoding import FORMAT as ENCODER_FORMAT
    from online_lr.encoding import FeatureEncoder

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
            schema = checkpoint.schema or {}
            if schema.get("format") == ENCODER_FORMAT:
                encoder = scoring_encoder(schema)
            else:  # a checkpoint written before encoders: its numeric features
                encoder = FeatureEncoder(include=list(schema.get("features") or ()) or None)
        else:
            model = SGDRegressor.from_dict(head)
            names = [str(name) for name in model.weights]
            encoder = FeatureEncoder(include=names)
            encoder.learn_one(dict.fromkeys(names, 0.0))  # its columns: the model's features
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"the model of {str(path)!r} cannot be restored: {exc}") from None
    if not model.weights:
        raise CheckpointError(f"{str(path)!r} holds a model that has learned no feature yet")
    return model, encoder


def load_pipeline(path: str | Path) -> Any:
    """``FeatureEncoder | SGDRegressor`` from a checkpoint or model file, as a River pipeline:
    ``load_pipeline(path).predict_one(raw_event)`` encodes the event as the learning run did
    and predicts."""
    model, encoder = load_learned(path)
    return encoder | model


@contextlib.contextmanager
def _output(path: str) -> Iterator[TextIO]:
    if path == "-":
        yield sys.stdout
        return
    with open(path, "w", encoding="utf-8", newline="") as f:
        yield f


def score_file(model: Any, encoder: Any, path: str | Path, output: str,
               fmt: str = "auto", batch_size: int = 1000) -> tuple[int, int, dict[str, int]]:
    """Write the predictions of every row of ``path`` to ``output`` (CSV; ``"-"``: stdout).

    Returns ``(rows scored, rows read, {reason code: rows refused})``.
    """
    from consumers.decode import decode_batch
    from consumers.file_source import FileSource

    scored = rows = 0
    reasons: Counter[str] = Counter()
    with FileSource(path, fmt=fmt) as source, _output(output) as out:
        writer = csv.writer(out)
        writer.writerow(["row", "prediction", "reason"])
        while (messages := source.poll(batch_size, 0.0)) is not None:
            batch = decode_batch([m.value for m in messages], encoder, None)
            names, encoded = encoder.feature_names, batch.encoded
            lines: list[list[object]] = [[m.offset, "", ""] for m in messages]
            for k, i in enumerate(batch.rows):
                start, end = encoded.indptr[k], encoded.indptr[k + 1]
                x = {names[c]: v for c, v in zip(encoded.indices[start:end].tolist(),
                                                 encoded.values[start:end].tolist())}
                try:
                    lines[i][1] = model.predict_one(x)
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
