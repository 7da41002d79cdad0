"""Encoded rows -> the model: the one place the stream side calls the learner.

`learn_encoded` hands an encoded batch (a CSR matrix over the encoder's columns,
`online_lr.encoding.EncodedBatch`) to `SGDRegressor.learn_rows_sparse`: each row is predicted
just before it is learned, in order, and the rows the model refuses come back as values. A
feature absent from a row (missing, or not seen yet) is not part of it, as a dict without that
key is not for `learn_one`.

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
    from online_lr.sgd import refusal_message

    if len(batch.rows) == 0:
        return np.full(0, np.nan), []
    outcome = model.learn_rows_sparse(batch.indptr, batch.indices, batch.values, batch.y,
                                      columns=feature_names, learn=batch.learn_mask)
    refused = [
        (row, BadRecord(Reason.DIVERGED if reason == "diverged" else Reason.MODEL_REFUSED,
                        f"{reason}: {refusal_message(reason)}"))
        for row, reason in outcome.reasons()
    ]
    return outcome.predictions, refused
