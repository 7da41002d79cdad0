"""Raw events -> numeric features, as River and Vowpal Wabbit users expect them.

`FeatureEncoder` is pure (no I/O): it turns an event (a JSON object already parsed into a dict,
e.g. by `consumers.decode.parse_value`; bytes are not its business) into a feature dict, `FeatureEncoder.encode`, or a batch of events into a CSR matrix over a
stable column index, `FeatureEncoder.encode_many`. It is also a River transformer, so
``FeatureEncoder() | SGDRegressor()`` learns from raw dicts. Its state round-trips through
`FeatureEncoder.to_dict` / `FeatureEncoder.from_dict` as JSON-safe data, so it can travel inside
a checkpoint and a resumed run encodes exactly as before.

Rules
-----
* A number is a feature with its value (``"a": 2.5`` gives ``a: 2.5``; ints become floats); NaN
  or infinity refuses the event (`Reason.NONFINITE_FEATURE`).
* A boolean is 0 or 1 (``"b": false`` gives ``b: 0.0``, a present zero).
* A string is one-hot: ``"city": "paris"`` gives ``city=paris: 1.0``; with ``encoding="hash"``
  it is the bucket ``hash[k]`` of the name ``city=paris`` instead (see Hashing).
* A number in a string (``"1.5"``) is that number with ``number_strings="parse"`` (the default),
  by the one rule of `parse_number` for every source, JSON or CSV cell; with ``"keep"`` it is a
  category.
* An object is flattened to dotted paths: ``"user": {"age": 31}`` gives ``user.age: 31.0``.
* In an array, strings form a bag: ``"tags": ["a", "b"]`` gives ``tags=a: 1.0, tags=b: 1.0``
  (a repeated value counts twice); other elements are positional: ``"v": [1.5, 2]`` gives
  ``v[0]: 1.5, v[1]: 2.0`` (``v[0].k`` for an object, ``v[0][1]`` for a nested array).
* ``null``, a blank string and an empty array are missing: no feature, i.e. 0.
* A field matched by ``categorical`` has categories for numbers too: ``75001``, ``75001.0`` and
  ``"75001"`` all give ``zip=75001: 1.0``; in an array, all its scalars join the bag.
* Any other value (bytes, a set, a datetime) refuses the event (`Reason.UNSUPPORTED_VALUE`).

Every event is encoded value by value, so a field whose type changes mid-stream needs no special
case: a numeric field that receives ``"n/a"`` gets the category ``field=n/a`` besides its numeric
feature ``field``. Such fields are listed in `FeatureEncoder.mixed_fields`. Features of one event
that land in the same column (a repeated bag value, a hash collision) add up, as in VW.

Fields join the index as they first appear, up to ``max_features`` named features; after that a
new feature is hashed into one of the ``2**hash_bits`` buckets (``overflow="hash"``, as VW does
with every feature) or refuses its event, `Reason.TOO_MANY_FEATURES` (``overflow="refuse"``).
``max_features=0`` hashes everything. The target and the timestamp are never features; the
timestamp (a number of seconds or an ISO 8601 string, naive = UTC) is parsed and reported.

Hashing: a feature name's bucket is
``zlib.crc32(name.encode("utf-8", "surrogatepass")) & (2**hash_bits - 1)`` (CRC-32 as in
zlib/PNG/gzip: stable across processes and platforms, unlike the salted builtin ``hash``); the
bucket's feature is named ``hash[k]``. Buckets get columns as they are first used,
so the column count is bounded by ``max_features + 2**hash_bits``.

Counts: each field's number of events with a value, hence its missing count
(`FeatureEncoder.missing_counts`), the refusals by reason, and the encoded events.

>>> enc = FeatureEncoder(target="price", timestamp="ts")
>>> event = {"price": 3e5, "sqm": 80.5, "city": "paris", "user": {"age": 31, "premium": True},
...          "tags": ["a", "b"], "ts": "2026-11-01T10:00:00Z"}
>>> row = enc.encode(event)
>>> row.x
{'sqm': 80.5, 'city=paris': 1.0, 'user.age': 31.0, 'user.premium': 1.0,
 'tags=a': 1.0, 'tags=b': 1.0}
>>> row.y, row.timestamp
(300000.0, 1793527200.0)
>>> enc.encode({"price": 1.0, "sqm": "92", "city": None, "floor": 3}).x   # late field, missing city
{'sqm': 92.0, 'floor': 3.0}
>>> enc.missing_counts()["city"], enc.missing_counts()["floor"]
(1, 1)
>>> print(enc.encode({"sqm": float("nan")}))
nonfinite_feature: 'sqm' is nan
"""

from __future__ import annotations

import fnmatch
import importlib
import math
import numbers
import zlib
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, NamedTuple

import numpy as np
from river import base

try:
    from online_lr import _walk
except ImportError:  # the C extension is not built
    from online_lr import _walk_py as _walk

__all__ = [
    "EncodedBatch",
    "EncodedRow",
    "FeatureEncoder",
    "Reason",
    "Refusal",
    "parse_number",
    "parse_timestamp",
    "resolve_transform",
]

FORMAT = "online_lr.FeatureEncoder"
FORMAT_VERSION = 1

#: Per-field cache of value -> column; past this many values a field's new values are looked up
#: each time (only hashed values can be this many: named features stop at ``max_features``).
_VALUES_CACHED_PER_FIELD = 1 << 16
#: The field tree is a cache too; past this many nodes it is rebuilt from the column index.
_NODE_LIMIT = 1 << 18
#: At most this many fields have their own count (each a log/metrics label).
_COUNTED_FIELDS = 10_000
#: Timestamp strings remembered with their value (a second's worth of events shares one).
_TIMES_CACHED = 4096

_ENCODINGS = ("onehot", "hash")
_OVERFLOWS = ("hash", "refuse")
_NUMBER_STRINGS = ("parse", "keep")


class Reason:
    """Why an event was refused: stable codes (shared with `consumers.records.Reason` where the
    same fact is meant)."""

    NOT_OBJECT = "not_object"
    TRANSFORM_FAILED = "transform_failed"
    NON_NUMERIC_TARGET = "non_numeric_target"
    NONFINITE_TARGET = "nonfinite_target"
    INVALID_TIMESTAMP = "invalid_timestamp"
    NONFINITE_FEATURE = "nonfinite_feature"
    UNSUPPORTED_VALUE = "unsupported_value"
    TOO_MANY_FEATURES = "too_many_features"


@dataclass(frozen=True, slots=True)
class Refusal:
    """An event that cannot be encoded: a `Reason` code and a detail naming the field."""

    reason: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}" if self.detail else self.reason


@dataclass(frozen=True, slots=True)
class EncodedRow:
    """One encoded event: features by name, the target (``None``: predict only) and the
    timestamp in epoch seconds (``None``: absent or no timestamp field)."""

    x: dict[str, float]
    y: float | None
    timestamp: float | None


class EncodedBatch(NamedTuple):
    """A batch as a CSR matrix: row ``r`` holds columns ``indices[indptr[r]:indptr[r+1]]``.

    ``feature_names_added`` are the columns created by this batch, in column order (they follow
    the columns that existed before it). Refused events have no row: ``refusals`` lists
    ``(input index, Refusal)`` and ``rows[r]`` is the input index of row ``r``. ``y[r]`` is 0.0
    and ``learn_mask[r]`` False for a row without a target; ``timestamps[r]`` is NaN without one.
    """

    feature_names_added: list[str]
    indptr: np.ndarray
    indices: np.ndarray
    values: np.ndarray
    y: np.ndarray
    learn_mask: np.ndarray
    refusals: list[tuple[int, Refusal]]
    timestamps: np.ndarray
    rows: np.ndarray


def parse_number(text: str) -> float | None:
    """The number a string spells, or ``None``: the one rule for numbers in strings.

    A number is what Python's ``float`` reads (surrounding blanks allowed), if finite and
    written without ``_``; so ``"nan"``, ``"inf"`` and ``"1e999"`` are not numbers.

    >>> parse_number(" 1.5 "), parse_number("-2e3"), parse_number(".5")
    (1.5, -2000.0, 0.5)
    >>> parse_number("nan"), parse_number("1e999"), parse_number("1_000"), parse_number("0x1F")
    (None, None, None, None)
    """
    try:
        number = float(text)
    except ValueError:
        return None
    return number if number - number == 0.0 and "_" not in text else None


def parse_timestamp(value: object) -> float | None:
    """Epoch seconds from a number or an ISO 8601 string (naive = UTC); ``None`` if unreadable.

    >>> parse_timestamp(12.5), parse_timestamp("3"), parse_timestamp("1970-01-02")
    (12.5, 3.0, 86400.0)
    >>> parse_timestamp("2017-01-23T00:00:00Z"), parse_timestamp("2017-01-23T01:00:00+01:00")
    (1485129600.0, 1485129600.0)
    >>> parse_timestamp("yesterday"), parse_timestamp(True), parse_timestamp(float("inf"))
    (None, None, None)
    >>> parse_timestamp(datetime(1970, 1, 2))  # a typed column's value (Parquet, Arrow)
    86400.0
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        # "YYYY-..." cannot be a number, and a failed float() costs an exception
        if value[4:5] == "-" and value[:4].isdigit():
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                moment = _iso_datetime(value)
        else:
            seconds = parse_number(value)
            if seconds is not None:
                return seconds
            moment = _iso_datetime(value)
    else:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            return None
        seconds = _float(value)
        return seconds if math.isfinite(seconds) else None
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _iso_datetime(text: str) -> datetime | None:
    """``datetime.fromisoformat`` that also accepts surrounding blanks and, before Python
    3.11, a "Z"."""
    text = text.strip()
    if text[-1:] in ("Z", "z"):  # Python < 3.11 reads only "+00:00"
        text = text[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def resolve_transform(spec: str) -> Callable[[dict], dict]:
    """The function named ``"package.module:function"`` (``function`` may be dotted).

    >>> resolve_transform("json:dumps")({"a": 1})
    '{"a": 1}'
    >>> resolve_transform("json.dumps")
    Traceback (most recent call last):
    ...
    ValueError: transform: expected 'package.module:function', got 'json.dumps'
    """
    module_name, sep, attr_path = spec.partition(":")
    if not sep or not module_name or not attr_path:
        raise ValueError(f"transform: expected 'package.module:function', got {spec!r}")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"transform: cannot import {module_name!r} ({exc})") from exc
    for attr in attr_path.split("."):
        try:
            obj = getattr(obj, attr)
        except AttributeError:
            raise ValueError(f"transform: {module_name!r} has no {attr_path!r}") from None
    if not callable(obj):
        raise ValueError(f"transform: {spec!r} is not callable")
    return obj


#: One dotted path of the event tree, with its settings and column caches: its class is the walk
#: module's (compiled with the walk, which reads its fields).
_Node = _walk.Node


class _Lists:
    """The growing output of one encoding call: typed arrays of C ``long long`` and ``double``
    (cheap appends, in C from the compiled walk, and numpy copies them whole) and lists."""

    __slots__ = ("n_events", "indptr", "indices", "values", "y", "timestamps", "refusals", "seen",
                 "dup")

    def __init__(self) -> None:
        self.n_events = 0  # input events, refused ones included
        self.indptr = array("q", [0])
        self.indices = array("q")
        self.values = array("d")
        self.y = array("d")  # NaN: no target
        self.timestamps = array("d")  # NaN: no timestamp
        self.refusals: list[tuple[int, Refusal]] = []
        self.seen: list[_Node] = []  # the fields that had a value, once per event
        self.dup = False  # the current event may hold a column twice


class FeatureEncoder(base.Transformer):
    """Encode raw events (nested dicts of numbers, strings, booleans, arrays) as features.

    The rules are in the module docstring. Settings are validated here; an error names the
    parameter.

    Parameters
    ----------
    target
        Dotted path of the target; never a feature. An event without it (or with ``null``) is
        encoded for prediction only.
    timestamp
        Dotted path of the event time (a number of seconds or an ISO 8601 string); parsed,
        reported, never a feature. An unreadable one refuses the event
        (`Reason.INVALID_TIMESTAMP`).
    categorical
        Glob patterns (``fnmatch`` on dotted paths) of fields whose numbers are categories too,
        e.g. zip codes. A pattern also covers everything below the path it matches.
    include
        Glob patterns of the fields that are features (``None``: all). Covers subtrees too.
    ignore
        Glob patterns of fields that are never features, e.g. other label columns. Wins over
        ``include``.
    transform
        A function ``dict -> dict`` applied to each event first, or its name as
        ``"package.module:function"``. Its exceptions refuse the event
        (`Reason.TRANSFORM_FAILED`).
    encoding
        ``"onehot"``: a string is the feature ``field=value``; ``"hash"``: it is hashed into a
        bucket (numbers keep their names).
    hash_bits
        ``2**hash_bits`` buckets (1 to 31); VW's default is 18.
    max_features
        Bound on named features; past it, see ``overflow``. Buckets do not count.
    overflow
        ``"hash"``: a new feature past the bound is hashed; ``"refuse"``: its event is refused
        (`Reason.TOO_MANY_FEATURES`).
    number_strings
        ``"parse"``: a string that spells a number (see `parse_number`) is that number;
        ``"keep"``: it is a category. Applies to the target too.

    Examples
    --------
    In a River pipeline, on raw events:

    >>> from river import evaluate, metrics
    >>> from online_lr import SGDRegressor
    >>> stream = [({"size": 10 + i % 7, "city": ["lyon", "paris"][i % 2],
    ...             "user": {"premium": i % 3 == 0}}, 2.0 * (i % 7) + 3 * (i % 2))
    ...           for i in range(300)]
    >>> model = FeatureEncoder() | SGDRegressor()
    >>> evaluate.progressive_val_score(stream, model, metrics.MAE())
    MAE: ...
    >>> sorted(model["FeatureEncoder"].feature_names)
    ['city=lyon', 'city=paris', 'size', 'user.premium']
    """

    def __init__(
        self,
        target: str | None = None,
        timestamp: str | None = None,
        categorical: Sequence[str] | None = None,
        include: Sequence[str] | None = None,
        ignore: Sequence[str] | None = None,
        transform: str | Callable[[dict], dict] | None = None,
        encoding: str = "onehot",
        hash_bits: int = 18,
        max_features: int = 100_000,
        overflow: str = "hash",
        number_strings: str = "parse",
    ) -> None:
        self.target = target
        self.timestamp = timestamp
        self.categorical = categorical
        self.include = include
        self.ignore = ignore
        self.transform = transform
        self.encoding = encoding
        self.hash_bits = hash_bits
        self.max_features = max_features
        self.overflow = overflow
        self.number_strings = number_strings
        self._validate()
        self._transform_fn = resolve_transform(transform) if isinstance(transform, str) \
            else transform
        self._mask = (1 << hash_bits) - 1
        self._hash_strings = encoding == "hash"
        self._parse_strings = number_strings == "parse"
        # the state
        self._names: list[str] = []  # column -> feature name
        self._named: dict[str, int] = {}  # named feature -> column
        self._buckets: dict[int, int] = {}  # bucket -> column
        self._n_events = 0
        self._seen: dict[str, int] = {}  # field -> events in which it had a value
        self._refused: dict[str, int] = {}
        self._kinds: dict[str, int] = {}  # field -> 1: has had numbers, 2: categories, 3: both
        self._kind_changes: list[tuple[str, int]] = []  # (field, kind before) in this call
        # caches, rebuilt on demand
        self._reset_tree()
        self._parsed_times: dict[str, float] = {}  # events often share their time string

    # Settings

    def _validate(self) -> None:
        for name in ("target", "timestamp"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise ValueError(f"{name}: expected a non-empty field name, got {value!r}")
        if self.target is not None and self.target == self.timestamp:
            raise ValueError(f"timestamp: {self.timestamp!r} is also the target")
        for name in ("categorical", "include", "ignore"):
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, (list, tuple)):
                raise ValueError(f"{name}: expected a list of field patterns, got {value!r}")
            bad = [p for p in value if not isinstance(p, str) or not p]
            if bad:
                raise ValueError(f"{name}: patterns must be non-empty strings, got {bad[0]!r}")
        if not (self.transform is None or callable(self.transform)
                or isinstance(self.transform, str)):
            raise ValueError(
                f"transform: expected 'package.module:function' or a callable, "
                f"got {self.transform!r}"
            )
        for name, allowed in (("encoding", _ENCODINGS), ("overflow", _OVERFLOWS),
                              ("number_strings", _NUMBER_STRINGS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name}: expected one of {allowed}, got {getattr(self, name)!r}")
        if type(self.hash_bits) is not int or not 1 <= self.hash_bits <= 31:
            raise ValueError(f"hash_bits: expected an integer from 1 to 31, got {self.hash_bits!r}")
        if type(self.max_features) is not int or self.max_features < 0:
            raise ValueError(
                f"max_features: expected a non-negative integer, got {self.max_features!r}"
            )

    @staticmethod
    def _matches(path: str, patterns: Sequence[str] | None) -> bool:
        return patterns is not None and any(fnmatch.fnmatchcase(path, p) for p in patterns)

    # Reported state

    @property
    def feature_names(self) -> list[str]:
        """Feature name of each column, in column order (buckets are ``hash[k]``)."""
        return list(self._names)

    @property
    def n_events(self) -> int:
        """Events encoded (refused ones excluded)."""
        return self._n_events

    @property
    def mixed_fields(self) -> list[str]:
        """Fields that have had both numbers and categories (a type change)."""
        return sorted(path for path, kinds in self._kinds.items() if kinds == 3)

    @property
    def refusal_counts(self) -> dict[str, int]:
        """Refused events by reason code."""
        return dict(self._refused)

    def missing_counts(self) -> dict[str, int]:
        """For each field seen so far: the encoded events in which it had no value.

        Events before a field first appeared count as missing it. Paths are counted up to
        10,000 fields.
        """
        n = self._n_events
        return {path: max(n - count, 0) for path, count in self._seen.items()}

    # Encoding

    def encode(self, event: Mapping) -> EncodedRow | Refusal:
        """Encode one event, learning new fields and counting; never raises for a bad event."""
        out = self._encode_all((event,), grow=True)
        if out.refusals:
            return out.refusals[0][1]
        names = self._names
        x = {names[c]: v for c, v in zip(out.indices, out.values)}
        y, ts = out.y[0], out.timestamps[0]
        return EncodedRow(x, None if y != y else y, None if ts != ts else ts)

    def encode_many(self, events: Iterable[Mapping]) -> EncodedBatch:
        """Encode a batch in one pass into a CSR matrix; equal to `encode` event by event.

        >>> enc = FeatureEncoder(target="y")
        >>> b = enc.encode_many([{"a": 1, "y": 2}, {"a": "x"}, {"a": float("inf")}, {"b": True}])
        >>> b.feature_names_added, b.indptr.tolist(), b.indices.tolist(), b.values.tolist()
        (['a', 'a=x', 'b'], [0, 1, 2, 3], [0, 1, 2], [1.0, 1.0, 1.0])
        >>> b.y.tolist(), b.learn_mask.tolist(), b.rows.tolist()
        ([2.0, 0.0, 0.0], [True, False, False], [0, 1, 3])
        >>> [(i, str(refusal)) for i, refusal in b.refusals]
        [(2, "nonfinite_feature: 'a' is inf")]
        """
        n_before = len(self._names)
        out = self._encode_all(events, grow=True)
        y = np.array(out.y, dtype=np.float64)
        learn = y == y
        y[~learn] = 0.0
        encoded = np.ones(out.n_events, dtype=bool)
        encoded[[i for i, _ in out.refusals]] = False
        return EncodedBatch(
            self._names[n_before:],
            np.array(out.indptr, dtype=np.int64),
            np.array(out.indices, dtype=np.int64),
            np.array(out.values, dtype=np.float64),
            y,
            learn,
            out.refusals,
            np.array(out.timestamps, dtype=np.float64),
            np.flatnonzero(encoded),
        )

    def encode_numbers(self, names: Sequence[str], X: np.ndarray, y: np.ndarray | None
                       ) -> EncodedBatch | None:
        """`encode_many` of events whose fields are all finite numbers, in bulk; else None.

        Event ``r`` is ``{names[j]: X[r, j]}`` plus the target ``y[r]`` when ``y`` is given and
        ``y[r]`` is not NaN (no target). The result and the counts are `encode_many`'s, when
        each field is ignored or a feature of its own already, under its own name: otherwise (a
        new field, a categorical one, a hashed name, a transform, the timestamp among
        ``names``, a non-finite number) this returns None and changes nothing: encode the events
        with `encode_many`.

        >>> enc = FeatureEncoder(target="y")
        >>> X = np.array([[1.0, 2.0], [3.0, 4.0]])
        >>> enc.encode_numbers(["a", "b"], X, np.array([1.0, np.nan])) is None  # no columns yet
        True
        >>> _ = enc.encode_many([{"a": 0.0, "b": 0.0}])
        >>> b = enc.encode_numbers(["a", "b"], X, np.array([1.0, np.nan]))
        >>> b.indices.tolist(), b.values.tolist(), b.learn_mask.tolist(), enc.n_events
        ([0, 1, 0, 1], [1.0, 2.0, 3.0, 4.0], [True, False], 3)
        """
        n, d = X.shape
        if (n == 0 or self._transform_fn is not None or self.timestamp in names
                or not np.isfinite(X).all()
                or (y is not None and np.isinf(y).any())):
            return None
        fields = self._root.children
        kept = [j for j, name in enumerate(names)
                if not (name in fields and fields[name].skip)]  # ignored: never a feature
        if len(kept) < d:
            names, X = [names[j] for j in kept], X[:, kept]
            n, d = X.shape
            if d == 0:  # every field ignored: rows without features, encode_many's way
                return None
        columns = [self._named.get(name) for name in names]
        probe = self._encode_all(({name: float(v) for name, v in zip(names, X[0])},),
                                 grow=False)
        if probe.refusals or probe.indices.tolist() != columns or None in columns:
            return None  # a field that is not a numeric feature of the same name
        indices = np.tile(np.asarray(columns, dtype=np.int64), n)
        target = np.full(n, np.nan) if y is None else np.asarray(y, dtype=np.float64)
        learn = ~np.isnan(target)
        self._n_events += n
        for node in probe.seen:
            path = node.path
            if path in self._seen or len(self._seen) < _COUNTED_FIELDS:
                self._seen[path] = self._seen.get(path, 0) + n
        return EncodedBatch([], np.arange(0, n * d + 1, d, dtype=np.int64), indices,
                            np.ascontiguousarray(X, dtype=np.float64).ravel(),
                            np.where(learn, target, 0.0), learn, [], np.full(n, np.nan),
                            np.arange(n))

    def learn_one(self, x: dict) -> None:
        """River: learn the fields of ``x`` (new columns, counts)."""
        self._encode_all((x,), grow=True)

    def transform_one(self, x: dict) -> dict:
        """River: the features of ``x``, without learning.

        A feature that has no column yet is left out: a linear model has no weight for it
        anyway. A refused event raises ``ValueError`` with the reason.
        """
        out = self._encode_all((x,), grow=False)
        if out.refusals:
            raise ValueError(str(out.refusals[0][1]))
        names = self._names
        return {names[c]: v for c, v in zip(out.indices, out.values)}

    def _encode_all(self, events: Iterable[Mapping], grow: bool) -> _Lists:
        if len(self._nodes) > _NODE_LIMIT:
            self._reset_tree()
        out = _Lists()
        self._kind_changes.clear()  # only the current event's changes are ever undone
        out.n_events = _walk.encode_events(
            events, out, self._walker(out, grow), self._root, self.target, self.timestamp,
            self._transform_fn is not None, self._names, self._kind_changes, self._as_object,
            _at_path, self._target_number, self._parsed_time, _merge_row, self._forget_since)
        if grow:
            self._count(out)
        return out

    def _count(self, out: _Lists) -> None:
        self._n_events += len(out.y)
        for reason, n in Counter(r.reason for _, r in out.refusals).items():
            self._refused[reason] = self._refused.get(reason, 0) + n
        self._count_seen(out.seen)

    def _count_seen(self, seen: list[_Node]) -> None:
        """Add the fields of ``seen`` to the counts, and empty it."""
        counted = self._seen
        for node, n in Counter(seen).items():
            path = node.path
            if path in counted or len(counted) < _COUNTED_FIELDS:
                counted[path] = counted.get(path, 0) + n
        seen.clear()

    def _forget_since(self, n_names: int, n_kind_changes: int, seen: list[_Node]) -> _Node:
        """Undo what a refused event added: columns past ``n_names``, kind changes past
        ``n_kind_changes``; the caches that may hold those columns are rebuilt from the new root,
        returned."""
        for col in range(n_names, len(self._names)):
            name = self._names[col]
            if self._named.get(name) == col:
                del self._named[name]
            elif name.startswith("hash[") and self._buckets.get(int(name[5:-1])) == col:
                del self._buckets[int(name[5:-1])]
        del self._names[n_names:]
        while len(self._kind_changes) > n_kind_changes:
            path, before = self._kind_changes.pop()
            if before:
                self._kinds[path] = before
            else:
                del self._kinds[path]
        self._count_seen(seen)
        self._reset_tree()
        return self._root

    def _as_object(self, event: Any) -> Mapping | Refusal:
        """The object to encode (``event`` transformed, when a transform is set), or the
        refusal."""
        if not isinstance(event, Mapping):
            return Refusal(Reason.NOT_OBJECT, f"got {type(event).__name__}")
        if self._transform_fn is None:
            return event
        try:
            result = self._transform_fn(event)  # type: ignore[misc]
        except Exception as exc:  # any failure of user code is the event's refusal
            return Refusal(Reason.TRANSFORM_FAILED, f"{type(exc).__name__}: {exc}"[:200])
        if not isinstance(result, Mapping):
            return Refusal(Reason.TRANSFORM_FAILED, f"returned {type(result).__name__}, not a dict")
        return result

    def _target_number(self, y: object) -> float | Refusal:
        name = self.target
        if isinstance(y, (bool, np.bool_)):
            return Refusal(Reason.NON_NUMERIC_TARGET, f"{name!r} is bool")
        if isinstance(y, str) and self._parse_strings:
            number = parse_number(y)
        elif isinstance(y, numbers.Real):
            number = _float(y)
        else:
            number = None
        if number is None:
            return Refusal(Reason.NON_NUMERIC_TARGET, f"{name!r} is {y!r}"[:200])
        if not math.isfinite(number):
            return Refusal(Reason.NONFINITE_TARGET, f"{name!r} is {y!r}"[:200])
        return number

    def _parsed_time(self, raw: object) -> float | Refusal:
        """Seconds of a timestamp by `parse_timestamp` (remembered for strings), or the
        refusal."""
        times = self._parsed_times
        ts = times.get(raw) if type(raw) is str else None
        if ts is None:
            ts = parse_timestamp(raw)
            if ts is None:
                return Refusal(Reason.INVALID_TIMESTAMP, f"{self.timestamp!r} is {raw!r}"[:200])
            if type(raw) is str:
                if len(times) >= _TIMES_CACHED:
                    times.clear()
                times[raw] = ts
        return ts

    def _walker(self, out: _Lists, grow: bool) -> Callable[[Mapping, _Node], Refusal | None]:
        """The function that appends an object's features to ``out`` (`online_lr._walk`): its
        fast paths are cache hits, everything else goes through `_array` and `_value`."""

        def array(node: _Node, items: Sequence, walk: Callable, start: int, n_bag: int
                  ) -> Refusal | None:
            return self._array(node, items, out, walk, grow, start, n_bag)

        def slow(node: _Node, v: object, walk: Callable) -> Refusal | None:
            return self._value(node, v, out, walk, grow)

        def on_shared() -> None:
            out.dup = True

        return _walk.walker(out.indices, out.values, out.seen, self._child, array, slow,
                            on_shared)

    def _value(self, node: _Node, v: object, out: _Lists, walk: Callable, grow: bool
               ) -> Refusal | None:
        """Any value of ``node``, the slow way."""
        if v is None:
            return None
        if isinstance(v, Mapping):
            return None if node.ignored else walk(v, node)
        if isinstance(v, (list, tuple)):
            return None if node.ignored else self._array(node, v, out, walk, grow)
        done = self._scalar(node, v, out, grow)
        if done is True:
            out.seen.append(node)
            return None
        return done  # type: ignore[return-value]

    def _array(self, node: _Node, items: Sequence, out: _Lists, walk: Callable, grow: bool,
               start: int | None = None, n_bag: int = 0) -> Refusal | None:
        """Strings (and any scalar of a categorical field) into a bag, the rest by position.

        The walk appends the leading strings whose columns are cached itself: ``n_bag`` of them,
        from position ``start`` of the output."""
        indices = out.indices
        if start is None:
            start = len(indices)
        for i in range(n_bag, len(items)):
            e = items[i]
            if type(e) is str:
                to_bag = node.categorical or not self._parse_strings or parse_number(e) is None
            elif e is None:
                continue
            else:
                to_bag = node.categorical and not isinstance(e, (Mapping, list, tuple, str))
            if to_bag:
                done = self._scalar(node, e, out, grow)
                if done is True:
                    n_bag += 1
                elif done is not None:
                    return done  # type: ignore[return-value]
                continue
            refused = self._value(self._element(node, i), e, out, walk, grow)
            if refused is not None:
                return refused
        if n_bag:
            out.seen.append(node)
            # a value twice in the bag; positional columns never equal bag columns (or are
            # shared, which is flagged where they are found)
            n = len(indices) - start
            if n > 1 and (indices[-1] == indices[-2] if n == 2 else
                          len(set(indices[start:])) < n):
                out.dup = True
        return None

    def _scalar(self, node: _Node, v: object, out: _Lists, grow: bool) -> bool | Refusal | None:
        """Append the feature of one scalar; True when one was appended."""
        if node.skip:
            return None
        if isinstance(v, str):
            if not v or v.isspace():
                return None
            number = None
            if self._parse_strings and not node.categorical:
                number = parse_number(v)
            if number is None:
                return self._category(node, v, v, out, grow)
        elif isinstance(v, (bool, np.bool_)):
            number = 1.0 if v else 0.0
        elif isinstance(v, numbers.Real):
            number = _float(v)
        else:
            return Refusal(Reason.UNSUPPORTED_VALUE, f"{node.path!r} is {type(v).__name__}")
        if not math.isfinite(number):
            return Refusal(Reason.NONFINITE_FEATURE, f"{node.path!r} is {v!r}"[:200])
        if node.categorical:
            return self._category(node, _label(v), None, out, grow)
        return self._number(node, number, out, grow)

    def _number(self, node: _Node, number: float, out: _Lists, grow: bool
                ) -> bool | Refusal | None:
        col = node.num_col
        if col < 0:
            col = node.num_shared
            if col < 0:
                found = self._column(node.path, node.nid, grow)
                if found is None or type(found) is Refusal:
                    return found  # type: ignore[return-value]
                self._note_kind(node, 1, grow)
                if found >= 0:
                    node.num_col = col = found
                else:
                    node.num_shared = col = ~found
            if node.num_col < 0:
                out.dup = True
        out.indices.append(col)
        out.values.append(number)
        return True

    def _category(self, node: _Node, label: str, cache_key: str | None, out: _Lists,
                  grow: bool) -> bool | Refusal | None:
        name = f"{node.path}={label}"
        found = self._bucket(name, grow) if self._hash_strings else \
            self._column(name, node.nid, grow)
        if found is None or type(found) is Refusal:
            return found  # type: ignore[return-value]
        self._note_kind(node, 2, grow)
        if cache_key is not None and len(node.cats) < _VALUES_CACHED_PER_FIELD:
            node.cats[cache_key] = found
        if found < 0:
            found = ~found
            out.dup = True
        out.indices.append(found)
        out.values.append(1.0)
        return True

    def _note_kind(self, node: _Node, kind: int, grow: bool) -> None:
        if not grow:
            return
        before = self._kinds.get(node.path, 0)
        if before | kind != before and (before or len(self._kinds) < _COUNTED_FIELDS):
            self._kind_changes.append((node.path, before))
            self._kinds[node.path] = before | kind

    # The column index

    def _column(self, name: str, nid: int, grow: bool) -> int | Refusal | None:
        """Column of a named feature: ``c`` (only ``nid`` uses it), ``~c`` (shared with another
        path, or hashed), ``None`` (no column and ``grow`` is False) or a refusal."""
        col = self._named.get(name)
        if col is not None:
            owner = self._owner.setdefault(col, nid)
            return col if owner == nid else ~col
        if len(self._named) < self.max_features:
            if not grow:
                return None
            col = self._named[name] = len(self._names)
            self._names.append(name)
            self._owner[col] = nid
            return col
        if self.overflow == "refuse":
            if not grow:
                return None
            return Refusal(Reason.TOO_MANY_FEATURES,
                           f"{name!r} is new and max_features={self.max_features} are in use")
        return self._bucket(name, grow)

    def _bucket(self, name: str, grow: bool) -> int | None:
        """``~column`` of the bucket ``name`` hashes to, or ``None`` (unused and not ``grow``)."""
        bucket = zlib.crc32(name.encode("utf-8", "surrogatepass")) & self._mask
        col = self._buckets.get(bucket)
        if col is None:
            if not grow:
                return None
            col = self._buckets[bucket] = len(self._names)
            self._names.append(f"hash[{bucket}]")
        return ~col

    # The field tree

    def _reset_tree(self) -> None:
        root = _Node(-1, "", False, self.include is None, False, True)
        self._root = root
        self._nodes: list[_Node] = []
        self._owner: dict[int, int] = {}  # named column -> id of the node that uses it

    def _child(self, parent: _Node, key: object) -> _Node:
        path = str(key) if parent is self._root else f"{parent.path}.{key}"
        node = parent.children[key] = self._node(parent, path)
        return node

    def _element(self, parent: _Node, i: int) -> _Node:
        elements = parent.elements
        while len(elements) <= i:
            elements.append(self._node(parent, f"{parent.path}[{len(elements)}]"))
        return elements[i]

    def _node(self, parent: _Node, path: str) -> _Node:
        ignored = parent.ignored or self._matches(path, self.ignore)
        included = parent.included or self._matches(path, self.include)
        categorical = parent.categorical or self._matches(path, self.categorical)
        skip = ignored or not included or path == self.target or path == self.timestamp
        node = _Node(len(self._nodes), path, ignored, included, categorical, skip)
        self._nodes.append(node)
        return node

    # State

    def to_dict(self) -> dict:
        """Settings and state as JSON-safe data (`from_dict` restores them exactly)."""
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "params": {
                "target": self.target,
                "timestamp": self.timestamp,
                "categorical": _list_or_none(self.categorical),
                "include": _list_or_none(self.include),
                "ignore": _list_or_none(self.ignore),
                "transform": _transform_name(self.transform),
                "encoding": self.encoding,
                "hash_bits": self.hash_bits,
                "max_features": self.max_features,
                "overflow": self.overflow,
                "number_strings": self.number_strings,
            },
            "feature_names": list(self._names),
            "buckets": [[bucket, col] for bucket, col in self._buckets.items()],
            "n_events": self._n_events,
            "seen": dict(self._seen),
            "refused": dict(self._refused),
            "kinds": dict(self._kinds),
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> FeatureEncoder:
        """The encoder `to_dict` described; a wrong format or version raises ``ValueError``."""
        if data.get("format") != FORMAT or data.get("version") != FORMAT_VERSION:
            raise ValueError(
                f"not a {FORMAT} version {FORMAT_VERSION} state: "
                f"format={data.get('format')!r}, version={data.get('version')!r}"
            )
        encoder = cls(**data["params"])
        names = [str(name) for name in data["feature_names"]]
        buckets = {int(bucket): int(col) for bucket, col in data["buckets"]}
        bucket_cols = set(buckets.values())
        encoder._names = names
        encoder._buckets = buckets
        encoder._named = {name: col for col, name in enumerate(names) if col not in bucket_cols}
        encoder._n_events = int(data["n_events"])
        encoder._seen = {str(k): int(v) for k, v in data["seen"].items()}
        encoder._refused = {str(k): int(v) for k, v in data["refused"].items()}
        encoder._kinds = {str(k): int(v) for k, v in data["kinds"].items()}
        return encoder


def _float(v: numbers.Real) -> float:
    try:
        return float(v)
    except OverflowError:  # an int beyond the float range
        return math.inf


def _label(v: object) -> str:
    """A scalar as a category label: ``true``, ``75001`` (for 75001 and 75001.0), ``1.5``."""
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    number = float(v)  # type: ignore[arg-type]
    return str(int(number)) if number.is_integer() else repr(number)


def _at_path(event: Mapping, path: str) -> object:
    """The value at the dotted ``path`` through nested objects (``None`` when absent); the
    encoder looks for ``path`` as a literal key first."""
    value: object = event
    for key in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _merge_row(indices: array, values: array, start: int) -> None:
    """Sum the entries of ``indices[start:]`` that share a column, keeping first positions."""
    position: dict[int, int] = {}
    write = start
    for read in range(start, len(indices)):
        col = indices[read]
        at = position.get(col)
        if at is None:
            position[col] = write
            indices[write] = col
            values[write] = values[read]
            write += 1
        else:
            values[at] += values[read]
    del indices[write:], values[write:]


def _list_or_none(patterns: Sequence[str] | None) -> list[str] | None:
    return None if patterns is None else list(patterns)


def _transform_name(transform: str | Callable | None) -> str | None:
    """The ``"module:function"`` name a transform is saved as; one that cannot be found again by
    that name cannot be saved."""
    if transform is None or isinstance(transform, str):
        return transform
    name = f"{getattr(transform, '__module__', None)}:{getattr(transform, '__qualname__', None)}"
    try:
        found = resolve_transform(name)
    except ValueError:
        found = None
    if found is not transform:
        raise ValueError(
            f"transform: {transform!r} cannot be saved; give it as 'package.module:function'"
        )
    return name
