"""An Arrow record batch -> the arrays `SGDRegressor.learn_sequential` eats, plus the refused rows.

The rules are `consumers.decode`'s, applied to columns instead of one message at a time, and a
row refused here is refused there for the same reason (same `Reason` code, same detail):

* the target, when not null, must be a finite number (else `Reason.NON_NUMERIC_TARGET` /
  `Reason.NONFINITE_TARGET`); a null or absent target makes the row *prediction-only*;
* every schema feature must be present and not null (`Reason.MISSING_FEATURE`), a number
  (`Reason.NON_NUMERIC_FEATURE`) and finite (`Reason.NONFINITE_FEATURE`); checks run in that
  order, target first, then the features in schema order: a row's first failure is its reason;
* until the schema is fixed, rows go one by one through `consumers.decode.decode_batch` (the
  reference) as the mapping a row source would deliver: the first valid one fixes the schema.

Numbers are integer and floating-point columns. With ``text=True`` (CSV, every cell read as
text) a cell is what `consumers.file_source` makes of it: empty is absent, text that ``float()``
parses is a number (``nan``/``inf`` included, then refused as non-finite), anything else a
string; a CSV column Arrow already parsed as numbers is read as such (its nulls are empty
cells). Otherwise (JSON Lines, Parquet) bool, string, dates, decimals and nested values are
not numbers, and a null is ``null``.

>>> import pyarrow as pa
>>> from consumers.columnar.numeric import Schema
>>> batch = pa.record_batch({"a": ["1", "x", "2", None], "y": ["3", "4", None, "5"]})
>>> out = decode_arrow_batch(batch, Schema(target="y"), text=True)
>>> out.columns, out.X.tolist(), out.y.tolist(), out.learn.tolist(), out.rows.tolist()
(('a',), [[1.0], [2.0]], [3.0, 0.0], [True, False], [0, 2])
>>> [(i, str(r)) for i, r in out.bad]
[(1, "non_numeric_feature: 'a' is string"), (3, "missing_feature: 'a' is absent")]
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from consumers.columnar.numeric import DecodedBatch, Reason, Schema, _cell, decode_batch
from consumers.records import BadRecord

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["decode_arrow_batch"]

# Per-row failure codes, in the order the checks run (0: the row is valid).
_CHECKS = (
    None,
    Reason.NON_NUMERIC_TARGET,
    Reason.NONFINITE_TARGET,
    Reason.MISSING_FEATURE,
    Reason.NON_NUMERIC_FEATURE,
    Reason.NONFINITE_FEATURE,
)
_NON_NUMERIC_TARGET, _NONFINITE_TARGET, _MISSING, _NON_NUMERIC, _NONFINITE = range(1, 6)


@dataclass
class _Column:
    """One column as float64 plus what is wrong with its cells."""

    values: np.ndarray  # NaN where missing or not a number
    missing: np.ndarray  # bool: null, or absent
    non_numeric: np.ndarray  # bool
    kind: str  # the type name a non-number's refusal gives
    absent_word: str  # "absent" (a CSV empty cell, a missing column) or "null"


def _type_name(t: pa.DataType) -> str:
    import pyarrow as pa

    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_struct(t) or pa.types.is_map(t):
        return "dict"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return "list"
    return str(t)


def _text_column(arr: pa.Array, decimal_comma: bool = False) -> _Column:
    import pyarrow as pa
    import pyarrow.compute as pc

    missing = arr.is_null().to_numpy(zero_copy_only=False)
    try:
        values = pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
        return _Column(values, missing, np.zeros(len(arr), bool), "string", "absent")
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    # A cell Arrow does not parse: decide cell by cell with float(), as the row path does.
    cells = [np.nan if v is None else _cell(v, decimal_comma) for v in arr.to_pylist()]
    non_numeric = np.fromiter((type(c) is str for c in cells), bool, len(cells))
    values = np.array([np.nan if type(c) is str else c for c in cells], dtype=np.float64)
    return _Column(values, missing, non_numeric, "string", "absent")


def _typed_column(arr: pa.Array) -> _Column:
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(arr)
    t = arr.type
    missing = arr.is_null().to_numpy(zero_copy_only=False)
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        values = pc.cast(arr, pa.float64(), safe=False).to_numpy(zero_copy_only=False)
        return _Column(values, missing, np.zeros(n, bool), "number", "null")
    return _Column(np.full(n, np.nan), missing, ~missing, _type_name(t), "null")


def _absent_column(n: int) -> _Column:
    return _Column(np.full(n, np.nan), np.ones(n, bool), np.zeros(n, bool), "", "absent")


def _column(batch: pa.RecordBatch, name: str, text: bool, decimal_comma: bool = False
            ) -> _Column:
    index = batch.schema.get_field_index(name)
    if index < 0:
        return _absent_column(batch.num_rows)
    arr = batch.column(index)
    if not text:
        return _typed_column(arr)
    if arr.type in _string_types():
        return _text_column(arr, decimal_comma)
    column = _typed_column(arr)  # CSV cells Arrow already parsed as numbers
    column.absent_word = "absent"
    return column


def _string_types():
    import pyarrow as pa

    return (pa.string(), pa.large_string())


def _row_mappings(batch: pa.RecordBatch, text: bool, decimal_comma: bool = False,
                  chunk: int = 256) -> Iterator[dict]:
    """The rows as the mappings a row source delivers (CSV cells converted as FileSource does)."""
    for start in range(0, batch.num_rows, chunk):
        for row in batch.slice(start, chunk).to_pylist():
            if text:
                row = {k: _cell(v, decimal_comma) if isinstance(v, str) else v
                       for k, v in row.items() if v is not None}
            yield row


def _infer_schema(
    batch: pa.RecordBatch, schema: Schema, text: bool, decimal_comma: bool = False
) -> tuple[int, list[tuple[int, BadRecord]]]:
    """Decode rows with the reference until one fixes ``schema``: (its index, the refused)."""
    bad: list[tuple[int, BadRecord]] = []
    for i, row in enumerate(_row_mappings(batch, text, decimal_comma)):
        out = decode_batch([row], schema, None)
        if out.bad:
            bad.append((i, out.bad[0][1]))
        elif schema.fixed:
            return i, bad
    return batch.num_rows, bad


def _fail(code: np.ndarray, where: np.ndarray, value: int, field: np.ndarray, j: int) -> None:
    """Give the rows in ``where`` that have no failure yet the failure ``value`` on field ``j``."""
    hit = where & (code == 0)
    code[hit] = value
    field[hit] = j


def _detail(name: str, col: _Column, code: int, i: int) -> str:
    if code == _MISSING:
        return f"{name!r} is {col.absent_word}"
    if code in (_NON_NUMERIC, _NON_NUMERIC_TARGET):
        return f"{name!r} is {col.kind}"
    return f"{name!r} is {float(col.values[i])}"


def _decode_fixed(batch: pa.RecordBatch, schema: Schema, text: bool,
                  decimal_comma: bool = False) -> DecodedBatch:
    features = schema.features or ()
    n = batch.num_rows
    target = _column(batch, schema.target, text, decimal_comma)
    columns = [_column(batch, f, text, decimal_comma) for f in features]
    code = np.zeros(n, np.int8)
    field = np.full(n, -1, np.intp)  # -1: the target, j: feature j
    y_number = ~target.missing & ~target.non_numeric
    _fail(code, target.non_numeric & ~target.missing, _NON_NUMERIC_TARGET, field, -1)
    _fail(code, y_number & ~np.isfinite(target.values), _NONFINITE_TARGET, field, -1)
    X = np.empty((n, len(features)), dtype=np.float64)
    for j, col in enumerate(columns):
        X[:, j] = col.values
        if col.missing.any() or col.non_numeric.any():
            _fail(code, col.missing, _MISSING, field, j)
            _fail(code, col.non_numeric & ~col.missing, _NON_NUMERIC, field, j)
    finite = np.isfinite(X)
    if not finite.all():
        for j in range(len(features)):
            _fail(code, ~finite[:, j], _NONFINITE, field, j)
    learn = y_number.copy()
    y = np.where(y_number, target.values, 0.0)
    bad: list[tuple[int, BadRecord]] = []
    if code.any():
        for i in np.flatnonzero(code):
            j = int(field[i])
            name, col = (schema.target, target) if j < 0 else (features[j], columns[j])
            bad.append((int(i), BadRecord(_CHECKS[code[i]], _detail(name, col, int(code[i]), i))))
        ok = code == 0
        X, y, learn = X[ok], y[ok], learn[ok]
        rows = np.flatnonzero(ok).astype(np.intp)
    else:
        rows = np.arange(n, dtype=np.intp)
    return DecodedBatch(X=X, y=y, learn=learn, rows=rows, columns=tuple(features), bad=bad)


def decode_arrow_batch(batch: pa.RecordBatch, schema: Schema, *, text: bool,
                       decimal_comma: bool = False) -> DecodedBatch:
    """Decode ``batch`` against ``schema`` (fixing it on the first valid row if it is not fixed).

    ``decimal_comma``: a text cell ``3,5`` is 3.5 (a CSV separated by ``;``, tabs or ``|``).

    ``rows`` and the indices in ``bad`` are row numbers in ``batch``; ``X`` is C-contiguous.
    """
    if schema.fixed:
        return _decode_fixed(batch, schema, text, decimal_comma)
    first, bad = _infer_schema(batch, schema, text, decimal_comma)
    if not schema.fixed:
        return DecodedBatch(X=np.empty((0, 0)), y=np.empty(0), learn=np.empty(0, bool),
                            rows=np.empty(0, np.intp), columns=(), bad=bad)
    rest = _decode_fixed(batch.slice(first), schema, text, decimal_comma)
    rest.rows += first
    rest.bad = bad + [(i + first, r) for i, r in rest.bad]
    return rest
