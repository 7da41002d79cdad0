"""Frames and arrays in and out of the mini-batch methods: pandas, polars, pyarrow and numpy.

`to_matrix` turns a frame or a 2-D array into feature names and a float64 matrix, `as_vector`
a series or an array into a float64 vector, and `like_input` wraps predictions in the native
series type of the frame they came from, as River 0.26 does: a pandas Series with the frame's
index, a polars Series, a pyarrow ChunkedArray for a Table (an Array for a RecordBatch), and a
numpy array for anything else. A column that is not numeric (or boolean) is refused with a
`TypeError` naming it and its dtype.

The backend is told from the type's module, so polars and pyarrow are imported only when the
input is one of theirs, and pandas only when building a pandas result.

>>> import numpy as np
>>> import pandas as pd
>>> X = pd.DataFrame({"a": [1.0, 2.0], "b": [3, 4]}, index=[10, 11])
>>> to_matrix(X)
(['a', 'b'], array([[1., 3.],
       [2., 4.]]))
>>> like_input(X, np.array([0.5, 1.5]), "y")
10    0.5
11    1.5
Name: y, dtype: float64
>>> to_matrix(pd.DataFrame({"a": [1.0], "when": ["today"]}))
Traceback (most recent call last):
...
TypeError: feature column 'when' must be numeric, got dtype ...

"""

from __future__ import annotations

from collections.abc import Hashable, Iterable

import numpy as np

__all__ = ["as_vector", "like_input", "to_matrix"]

_NUMERIC_KINDS = "biuf"  # numpy dtype kinds: bool, signed and unsigned int, float


def to_matrix(X, columns: Iterable[Hashable] | None = None) -> tuple[list, np.ndarray]:
    """(feature names, float64 matrix) from a pandas, polars or pyarrow frame, or a 2-D array.

    ``columns`` renames the columns (default: the frame's column names, or 0..d-1 for an
    array). Missing values become NaN, for the finiteness checks to name.
    """
    backend = _backend(X)
    if backend == "pandas" and hasattr(X, "columns"):
        names, matrix = _pandas_names(X), _pandas_matrix(X)
    elif backend == "polars" and hasattr(X, "columns"):
        names, matrix = list(X.columns), _polars_matrix(X)
    elif backend == "pyarrow" and hasattr(X, "column_names"):
        names, matrix = X.column_names, _arrow_matrix(X)
    else:
        matrix = _numpy_floats(X, "X")
        if matrix.ndim != 2:
            raise ValueError(f"X must be 2-D, got shape {matrix.shape}")
        names = list(range(matrix.shape[1]))
    if columns is not None:
        names = list(columns)
    if len(names) != matrix.shape[1]:
        raise ValueError(f"{len(names)} column names for {matrix.shape[1]} columns")
    if len(set(names)) != len(names):
        raise ValueError("duplicate column names")
    return names, matrix


def as_vector(values, what: str = "the target") -> np.ndarray:
    """A contiguous, writable float64 vector from a pandas or polars Series, a pyarrow array, a
    numpy array or a list; ``what`` names the values in errors.

    The kernels are compiled per argument type, and numba types a read-only array apart: a
    read-only vector (a pandas Series under copy-on-write, an Arrow column) is copied (n
    floats, little beside the matrix) rather than compiling every kernel once more for it.

    >>> as_vector([1, 2.5])
    array([1. , 2.5])
    >>> frozen = np.array([1.0, 2.0]); frozen.flags.writeable = False
    >>> as_vector(frozen).flags.writeable
    True
    >>> as_vector(np.array(["1.5"]), what="w")
    Traceback (most recent call last):
    ...
    TypeError: w must be numeric, got dtype <U3
    """
    backend = _backend(values)
    if backend == "pandas" and hasattr(values, "dtype"):
        vector = values.to_numpy()
        if not (vector.dtype == np.float64 and vector.flags.c_contiguous):  # else as it is
            _check_numeric(values.dtype, what)
            vector = values.to_numpy(dtype=np.float64, na_value=np.nan)
    elif backend == "polars" and hasattr(values, "dtype"):
        vector = values.to_numpy()
        if vector.dtype != np.float64:
            _check_polars_numeric(values.dtype, what)
    elif backend == "pyarrow" and hasattr(values, "type"):
        vector = _arrow_column(values, what)
    else:
        vector = _numpy_floats(values, what)
    vector = np.ascontiguousarray(vector, dtype=np.float64).reshape(-1)
    return vector if vector.flags.writeable else vector.copy()


def like_input(X, values: np.ndarray, name: Hashable | None):
    """``values`` (one per row of ``X``) as the native series type of the frame ``X``.

    >>> like_input(np.ones((2, 3)), np.array([1.0, 2.0]), "y")
    array([1., 2.])
    """
    backend = _backend(X)
    if backend == "pandas" and hasattr(X, "index"):
        import pandas as pd

        return pd.Series(values, index=X.index, name=name)
    if backend == "polars" and hasattr(X, "columns"):
        import polars as pl

        return pl.Series("" if name is None else str(name), values)
    if backend == "pyarrow" and hasattr(X, "column_names"):
        import pyarrow as pa

        # pyarrow has no named series; a Table's columns are ChunkedArrays, a RecordBatch's Arrays.
        return pa.chunked_array([values]) if isinstance(X, pa.Table) else pa.array(values)
    return values


def _backend(obj) -> str:
    """The top-level package that defines ``obj``'s type: "pandas", "polars", "pyarrow", ..."""
    return type(obj).__module__.partition(".")[0]


def _pandas_names(X) -> list:
    columns = X.columns
    if getattr(columns.dtype, "storage", None) == "pyarrow":
        # pandas' Arrow-backed strings: ten times faster than `tolist`, which matters at every
        # mini-batch
        return columns.array.__arrow_array__().to_pylist()
    return columns.tolist()


def _pandas_matrix(X) -> np.ndarray:
    matrix = X.to_numpy()
    if matrix.dtype == np.float64:  # the common case: converting again would double the cost
        return matrix
    for name, dtype in X.dtypes.items():
        _check_numeric(dtype, f"feature column {name!r}")
    # na_value: nullable and pyarrow-backed columns hold pd.NA, which float() refuses.
    return X.to_numpy(dtype=np.float64, na_value=np.nan)


def _polars_matrix(X) -> np.ndarray:
    matrix = X.to_numpy()
    if matrix.dtype == np.float64:  # reading the schema would cost as much as the conversion
        return matrix
    for name, dtype in zip(X.columns, X.dtypes):
        _check_polars_numeric(dtype, f"feature column {name!r}")
    return np.asarray(matrix, dtype=np.float64)


def _arrow_matrix(X) -> np.ndarray:
    matrix = np.empty((X.num_rows, X.num_columns), order="F")  # filled column by column
    for j, (name, column) in enumerate(zip(X.column_names, X.columns)):
        matrix[:, j] = _arrow_column(column, f"feature column {name!r}")
    return matrix


def _arrow_column(column, what: str) -> np.ndarray:
    """A pyarrow Array or ChunkedArray as float64, nulls as NaN."""
    import pyarrow as pa

    kind = column.type
    if not (
        pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
        or pa.types.is_decimal(kind)
    ):
        raise TypeError(f"{what} must be numeric, got dtype {kind}")
    if not pa.types.is_float64(kind):
        column = column.cast(pa.float64())
    if isinstance(column, pa.ChunkedArray):
        return column.to_numpy()
    return column.to_numpy(zero_copy_only=False)


def _numpy_floats(values, what: str) -> np.ndarray:
    """An array-like as float64; object arrays (lists of Python numbers) convert item by item."""
    array = np.asarray(values)
    if array.dtype.kind != "O":
        _check_numeric(array.dtype, what)
    try:
        return np.asarray(array, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{what} must hold numbers only: {err}") from err


def _check_numeric(dtype, what: str) -> None:
    # Extension dtypes (nullable Int64, boolean, pyarrow-backed) report their numpy kind too.
    if getattr(dtype, "kind", "O") not in _NUMERIC_KINDS:
        raise TypeError(f"{what} must be numeric, got dtype {dtype}")


def _check_polars_numeric(dtype, what: str) -> None:
    import polars as pl

    if not (dtype.is_numeric() or dtype == pl.Boolean):
        raise TypeError(f"{what} must be numeric, got dtype {dtype}")
