"""The columnar reader's numeric rows: a fixed list of numeric features, as the row path had
before events were encoded (`online_lr.encoding.FeatureEncoder`).

`consumers.columnar` reads tables of numbers into dense arrays for
`online_lr.SGDRegressor.learn_sequential`; this module holds the rules it decodes by, kept here
(moved from ``consumers.schema``/``consumers.decode``) until the columnar reader feeds the
encoder too. On a table of finite numbers both give the same features and the same model (see
``tests/consumers/test_columnar.py::test_csv_replay_equals_the_row_path``).

Rules: the features are listed, or inferred from the first *valid* row (every int or float
field but the target and the ``ignore`` fields); a row missing one is `Reason.MISSING_FEATURE`,
a non-number there `Reason.NON_NUMERIC_FEATURE`, a NaN or infinity `Reason.NONFINITE_FEATURE`;
the target, when present, must be a finite number. A CSV cell is a number if ``float()`` reads
it (`_cell`).

>>> b = decode_batch([b'{"a": 1, "b": true, "y": 0}', b'{"a": NaN, "b": 1, "y": 0}'],
...                  Schema(target="y", features=("a", "b")))
>>> [str(r) for _, r in b.bad]
["non_numeric_feature: 'b' is bool", "nonfinite_feature: 'a' is nan"]
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain

import numpy as np

from consumers import records
from consumers.decode import DEFAULT_MAX_BYTES, _json_type, _parse_all, parse_value
from consumers.records import BadRecord, Value

__all__ = ["DecodedBatch", "Reason", "Schema", "decode_batch"]


class Reason(records.Reason):
    """The row path's codes plus those of a fixed numeric feature list."""

    NO_FEATURES = "no_features"
    MISSING_FEATURE = "missing_feature"
    NON_NUMERIC_FEATURE = "non_numeric_feature"


def _cell(text: str, decimal_comma: bool = False) -> object:
    try:
        return float(text)
    except ValueError:
        if decimal_comma and text.count(",") == 1:
            try:
                return float(text.replace(",", "."))
            except ValueError:
                pass
        return text


def _looks_like_time(text: str) -> bool:
    try:
        datetime.fromisoformat(text.strip())
    except ValueError:
        return False
    return True


def _why_not_numeric(value: object) -> str:
    if value is None:
        return "null in this row"
    if isinstance(value, bool):
        return "a boolean, not a number"
    if isinstance(value, str):
        if _looks_like_time(value):
            return "a date/time string, not a number"
        return "a string, not a number"
    if isinstance(value, (list, dict)):
        return "nested (a list or an object), not a number"
    return f"a {type(value).__name__}, not a number"


@dataclass
class Schema:
    """Target name, feature list (``None`` until fixed) and the fields never used as features."""

    target: str = "y"
    features: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    explicit: bool = field(default=False)

    def __post_init__(self) -> None:
        if self.features is not None:
            self.features = tuple(self.features)
            if not self.features:
                raise ValueError("an explicit feature list must not be empty")
            if self.target in self.features:
                raise ValueError(f"the target {self.target!r} cannot also be a feature")
            if len(set(self.features)) != len(self.features):
                raise ValueError(f"duplicate feature names in {list(self.features)}")
            self.explicit = True
        self.ignore = tuple(self.ignore)

    @property
    def fixed(self) -> bool:
        return self.features is not None

    def candidates(self, obj: Mapping[str, object]) -> tuple[str, ...]:
        """The features this message would fix: its numeric fields minus target and ignored."""
        skip = set(self.ignore)
        skip.add(self.target)
        return tuple(
            k for k, v in obj.items() if k not in skip and type(v) in (int, float)
        )

    def ignored_fields(self, obj: Mapping[str, object]) -> list[tuple[str, str]]:
        """The fields of ``obj`` that are not features, each with the reason, in its order."""
        chosen = set(self.features) if self.features is not None else set(self.candidates(obj))
        out = []
        for name, value in obj.items():
            if name in chosen:
                continue
            if name == self.target:
                why = "the target"
            elif name in self.ignore:
                why = "listed in ignore"
            elif type(value) in (int, float):
                why = "not in the explicit feature list"
            else:
                why = _why_not_numeric(value)
            out.append((name, why))
        return out

    def fix(self, features: Iterable[str]) -> None:
        """Fix the feature list (once: a fixed schema is never changed)."""
        if self.features is not None:
            raise RuntimeError(f"schema already fixed to {list(self.features)}")
        self.features = tuple(features)

    def to_dict(self) -> dict:
        return {
            "target": self.target,
            "features": None if self.features is None else list(self.features),
            "ignore": list(self.ignore),
            "explicit": self.explicit,
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> Schema:
        s = cls(target=d["target"], ignore=tuple(d.get("ignore", ())))
        if d.get("features") is not None:
            s.features = tuple(d["features"])
        s.explicit = bool(d.get("explicit", False))
        return s

    def reconcile(self, saved: Schema) -> Schema:
        """Merge a schema restored from a checkpoint with this (configured) one.

        The saved feature list wins when the config infers features; a different target, or
        an explicit feature list that differs from the saved one, is refused (the model's weights
        would no longer mean what they meant).
        """
        if saved.target != self.target:
            raise ValueError(
                f"the checkpoint was learned with target {saved.target!r}, "
                f"the config says {self.target!r}"
            )
        if self.explicit and saved.features is not None and saved.features != self.features:
            raise ValueError(
                f"the checkpoint was learned with features {list(saved.features)}, "
                f"the config lists {list(self.features or ())}"
            )
        merged = Schema(target=self.target, ignore=self.ignore)
        merged.features = self.features if self.explicit else saved.features
        merged.explicit = self.explicit
        return merged




@dataclass
class DecodedBatch:
    """The valid rows of a batch as arrays, plus the refused ones.

    ``X[k]`` and ``y[k]`` come from input value ``rows[k]``; ``learn[k]`` is False for a
    prediction-only row, whose ``y[k]`` is 0.0 (never read). ``bad`` lists ``(index, reason)``
    in input order. ``columns`` is the schema's feature list (empty while it is not fixed).
    """

    X: np.ndarray
    y: np.ndarray
    learn: np.ndarray
    rows: np.ndarray
    columns: tuple[str, ...]
    bad: list[tuple[int, BadRecord]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)


def _number(v: object) -> float | str:
    """A finite-or-not float from a JSON number, or the name of the wrong type (a str)."""
    t = type(v)
    if t is float:
        return v  # type: ignore[return-value]
    if t is int:
        try:
            return float(v)  # type: ignore[arg-type]
        except OverflowError:
            return math.inf
    if t is not bool and isinstance(v, numbers.Real) and not isinstance(v, np.bool_):
        return float(v)  # numpy scalars in a mapping
    return _json_type(v)


def _extract(obj: Mapping, schema: Schema) -> tuple[list[float], float | None] | BadRecord:
    """Feature row and target of a parsed object; fixes the schema on the first valid one."""
    features = schema.features
    inferring = features is None
    if inferring:
        features = schema.candidates(obj)
        if not features:
            return BadRecord(Reason.NO_FEATURES, "no numeric field to learn from")
    y = obj.get(schema.target)
    if y is not None:
        y = _number(y)
        if type(y) is str:
            return BadRecord(Reason.NON_NUMERIC_TARGET, f"{schema.target!r} is {y}")
        if not math.isfinite(y):
            return BadRecord(Reason.NONFINITE_TARGET, f"{schema.target!r} is {y}")
    row = []
    for f in features:
        v = obj.get(f)
        if v is None:
            state = "null" if f in obj else "absent"
            return BadRecord(Reason.MISSING_FEATURE, f"{f!r} is {state}")
        v = _number(v)
        if type(v) is str:
            return BadRecord(Reason.NON_NUMERIC_FEATURE, f"{f!r} is {v}")
        if not math.isfinite(v):
            return BadRecord(Reason.NONFINITE_FEATURE, f"{f!r} is {v}")
        row.append(v)
    if inferring:
        schema.fix(features)
    return row, y


def decode_batch(
    values: Sequence[Value], schema: Schema, max_bytes: int | None = DEFAULT_MAX_BYTES
) -> DecodedBatch:
    """Decode a batch in one pass into ``(X, y, learn, rows)`` arrays plus the refused values."""
    fast = _decode_clean_batch(values, schema, max_bytes)
    if fast is not None:
        return fast
    return _decode_batch_by_row(values, schema, max_bytes)


_NUMBERS = frozenset((float, int))
_NUMBERS_OR_NONE = frozenset((float, int, type(None)))


def _decode_clean_batch(
    values: Sequence[Value], schema: Schema, max_bytes: int | None
) -> DecodedBatch | None:
    """`decode_batch` of a batch in which every value is valid, or ``None`` if one may not be.

    The common case at stream speed, checked in bulk with C-level ``map``/``set``/numpy passes
    (bytes -> dicts -> rows of the schema's fields -> the set of their types -> finite arrays)
    instead of `_extract`'s per-field Python: 3.0 instead of 4.3 µs a message with 10
    features, half of it orjson's parse. Anything unusual (a refused value, an unfixed schema,
    a bool, a null feature, a huge int) returns ``None`` before any state changes, and the
    row-by-row path decides:
    the result is therefore always the one `_decode_batch_by_row` gives.
    """
    features = schema.features
    if features is None or not values:
        return None
    objs = _parse_all(values, max_bytes)
    if objs is None:
        return None
    pick = operator.itemgetter(*features)
    try:
        rows = list(map(pick, objs))
    except KeyError:
        return None
    if len(features) == 1:  # itemgetter of one key returns the value, not a 1-tuple
        rows = [(v,) for v in rows]
    ys = list(map(operator.methodcaller("get", schema.target), objs))
    y_types = set(map(type, ys))
    if not set(map(type, chain.from_iterable(rows))) <= _NUMBERS or not (
        y_types <= _NUMBERS_OR_NONE
    ):
        return None
    if type(None) in y_types:
        learn = np.fromiter((v is not None for v in ys), dtype=bool, count=len(ys))
        ys = [0.0 if v is None else v for v in ys]
    else:
        learn = np.ones(len(ys), dtype=bool)
    try:
        X = np.array(rows, dtype=np.float64).reshape(len(rows), len(features))
        y = np.array(ys, dtype=np.float64)
    except OverflowError:  # an int beyond float range: non-finite, named row by row
        return None
    if not (np.isfinite(X).all() and np.isfinite(y).all()):
        return None
    return DecodedBatch(X=X, y=y, learn=learn, rows=np.arange(len(rows), dtype=np.intp),
                        columns=tuple(features))


def _decode_batch_by_row(
    values: Sequence[Value], schema: Schema, max_bytes: int | None
) -> DecodedBatch:
    """`decode_batch` one value at a time: the reference rules, and every refusal's reason."""
    rows: list[list[float]] = []
    ys: list[float] = []
    learn: list[bool] = []
    index: list[int] = []
    bad: list[tuple[int, BadRecord]] = []
    for i, value in enumerate(values):
        obj = parse_value(value, max_bytes, schema.target)
        if isinstance(obj, BadRecord):
            bad.append((i, obj))
            continue
        out = _extract(obj, schema)
        if isinstance(out, BadRecord):
            bad.append((i, out))
            continue
        row, y = out
        rows.append(row)
        index.append(i)
        if y is None:
            ys.append(0.0)
            learn.append(False)
        else:
            ys.append(y)
            learn.append(True)
    columns = schema.features or ()
    X = np.array(rows, dtype=np.float64).reshape(len(rows), len(columns))
    return DecodedBatch(
        X=X,
        y=np.array(ys, dtype=np.float64),
        learn=np.array(learn, dtype=bool),
        rows=np.array(index, dtype=np.intp),
        columns=tuple(columns),
        bad=bad,
    )
