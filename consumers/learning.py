"""Encoded rows -> the model: the one place the stream side calls the learner.

`learn_encoded` predicts each row of an encoded batch (a CSR matrix over the encoder's
columns) just before learning it, in order, and returns the rows the model refused as values.
A feature absent from a row (missing, or not yet seen) is 0 there.

>>> import numpy as np
>>> from online_lr import SGDRegressor
>>> from online_lr.encoding import FeatureEncoder
>>> enc, model = FeatureEncoder(target="y"), SGDRegressor()
>>> batch = enc.encode_many([{"a": 1.0, "y": 2.0}, {"city": "lyon", "y": 1.0}, {"a": 2.0}])
>>> predictions, refused = learn_encoded(model, enc.feature_names, batch)
>>> len(predictions), refused, model.n_updates
(3, [], 2)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from consumers.records import BadRecord, Reason

if TYPE_CHECKING:
    from online_lr.encoding import EncodedBatch

__all__ = ["learn_encoded"]


def learn_encoded(model: Any, feature_names: Sequence[str], batch: EncodedBatch
                  ) -> tuple[np.ndarray, list[tuple[int, BadRecord]]]:
    """Prequential predictions of the batch's rows, learning the labelled ones in order.

    ``feature_names`` names the encoder's columns (``FeatureEncoder.feature_names``). Rows the
    model refuses are returned as ``(row, reason)`` and skipped; the rows after them are
    learned.
    """
    n = len(batch.rows)
    if n == 0:
        return np.full(0, np.nan), []
    names, X = _dense(feature_names, batch)
    return _learn_dense(model, X, batch.y, batch.learn_mask, names)


def _dense(feature_names: Sequence[str], batch: EncodedBatch) -> tuple[list[str], np.ndarray]:
    """The batch's rows as a dense matrix over the columns it uses (absent = 0)."""
    columns, position = np.unique(batch.indices, return_inverse=True)
    n = len(batch.rows)
    X = np.zeros((n, len(columns)))
    row_of_entry = np.repeat(np.arange(n), np.diff(batch.indptr))
    X[row_of_entry, position] = batch.values
    return [feature_names[c] for c in columns], X


def _learn_dense(model: Any, X: np.ndarray, y: np.ndarray, learn: np.ndarray,
                 names: list[str]) -> tuple[np.ndarray, list[tuple[int, BadRecord]]]:
    from online_lr.exceptions import DivergenceError

    n = len(X)
    predictions = np.full(n, np.nan)
    refused: list[tuple[int, BadRecord]] = []
    start = 0
    while start < n:
        try:
            predictions[start:] = model.learn_sequential(X[start:], y[start:], names,
                                                         learn[start:])
            break
        except DivergenceError as err:
            row = start + err.row
            if err.predictions is not None:
                predictions[start:row] = err.predictions
            refused.append((row, BadRecord(Reason.DIVERGED, str(err))))
            start = row + 1
        except ValueError:
            # Nothing was learned from [start:]: find the offending row(s) one by one.
            for k in range(start, n):
                try:
                    predictions[k] = model.learn_sequential(
                        X[k : k + 1], y[k : k + 1], names, learn[k : k + 1]
                    )[0]
                except DivergenceError as err:
                    refused.append((k, BadRecord(Reason.DIVERGED, str(err))))
                except ValueError as err:
                    refused.append((k, BadRecord(Reason.MODEL_REFUSED, str(err))))
            break
    return predictions, refused
