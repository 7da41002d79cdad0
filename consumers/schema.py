"""Which fields of a message are features: the ``fields`` settings as a `FeatureEncoder`.

Messages are encoded by `online_lr.encoding.FeatureEncoder` (numbers, booleans, strings one-hot
or hashed, nested objects, tags, missing and late fields: the rules are in that module).
`build_encoder` is the one place the ``fields`` settings map onto its parameters; the encoder's
state travels in the checkpoint (`saved_encoder`), so a resumed run encodes exactly as before.

The old explicit list ``fields.features`` still works: it is ``fields.include`` with exact
names, so only those fields are features.

>>> from consumers.config import FieldsSettings
>>> enc = build_encoder(FieldsSettings(target="price", timestamp="ts", ignore=("label_*",)))
>>> enc.encode({"price": 3.0, "sqm": 80, "city": "paris", "label_old": 1.0, "ts": 5}).x
{'sqm': 80.0, 'city=paris': 1.0}
>>> build_encoder(FieldsSettings(target="y", features=("a",))).encode({"a": 1, "b": 2}).x
{'a': 1.0}
>>> print(unknown_target("Price", ["sqm", "price"]))
the target 'Price' is not a field of the input; fields seen: 'sqm', 'price'; did you mean 'price'?
>>> print(date_warning("sold", "2012/01/31"))
field 'sold' holds dates ('2012/01/31') that --timestamp cannot read (epoch seconds or ISO 8601
only, e.g. 2012-01-31): each value becomes a category; --ignore it, or write it as ISO 8601 and
name it with --timestamp
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from consumers.errors import CheckpointError, ConfigError

if TYPE_CHECKING:
    from consumers.config import FieldsSettings
    from online_lr.encoding import FeatureEncoder

__all__ = ["build_encoder", "date_warning", "encoder_params", "field_warnings", "saved_encoder",
           "unknown_target", "unmatched_patterns"]

#: Rows encoded before `field_warnings` judges how many categories a field has.
_CATEGORIES_AFTER = 200

_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_TIME = r"(?:[ T]\d{1,2}:\d{2}.*)?"
#: Dates as people and spreadsheets write them: 2012/01/31, 1949-01, 31/01/2012, 31.01.2012,
#: Jan 31 2012, 31 January 2012 (an optional time after them).
_DATE_LIKE = re.compile(
    rf"(?:\d{{4}}[-/.]\d{{1,2}}(?:[-/.]\d{{1,2}})?|\d{{1,2}}([-/])\d{{1,2}}\1\d{{2,4}}"
    rf"|\d{{1,2}}\.\d{{1,2}}\.\d{{4}}|{_MONTH}\s+\d{{1,2}},?\s+\d{{4}}"
    rf"|\d{{1,2}}\s+{_MONTH},?\s+\d{{4}}){_TIME}", re.IGNORECASE)


def unknown_target(target: str, fields: Sequence[str], role: str = "target") -> str:
    """The message for a target (or another ``role``: ``"key field"``) that is not among
    ``fields``, with a did-you-mean."""
    seen = ", ".join(repr(f) for f in fields) or "none"
    folded = [f for f in fields if f.strip().lower() == target.strip().lower()]
    close = folded or difflib.get_close_matches(target, list(fields), n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else \
        f"; name the {role} with --{role.replace(' ', '-')} FIELD"
    return f"the {role} {target!r} is not a field of the input; fields seen: {seen}{hint}"


def date_warning(name: str, value: object) -> str | None:
    """The warning for a field of dates that would become categories (one per value), or None.

    >>> date_warning("d", "2024-03-01T10:00:00Z")
    "field 'd' holds date/time strings: each value becomes a category; name it with --timestamp
    or --ignore it"
    >>> [date_warning("d", v) is None for v in ("Jan 5 2000", "1949-01", "12.5", "paris", 3)]
    [False, False, True, True, True]
    """
    from online_lr.encoding import parse_number, parse_timestamp

    if not isinstance(value, str) or parse_number(value) is not None:
        return None
    if parse_timestamp(value) is not None:
        return (f"field {name!r} holds date/time strings: each value becomes a category; "
                f"name it with --timestamp or --ignore it")
    if _DATE_LIKE.fullmatch(value.strip()):
        return (f"field {name!r} holds dates ({value!r}) that --timestamp cannot read (epoch "
                f"seconds or ISO 8601 only, e.g. 2012-01-31): each value becomes a category; "
                f"--ignore it, or write it as ISO 8601 and name it with --timestamp")
    return None


def field_warnings(encoder: FeatureEncoder) -> dict[str, str]:
    """Fields the encoder turned into features that cannot help: text with a value per row or
    nearly (an identifier, amounts written ``$20,992``: one category each, seen once) and
    numbers some of whose values are text (``1,234``, ``n/a``: categories beside the number).
    By field, the warning.

    >>> from online_lr.encoding import FeatureEncoder
    >>> enc = FeatureEncoder(target="y")
    >>> for i in range(300):
    ...     enc.learn_one({"id": f"u{i}", "fee": f"${i},000", "sqm": "1,250" if i == 7 else i,
    ...                    "city": "paris"})
    >>> for text in field_warnings(enc).values():
    ...     print(text)
    field 'id' has 300 distinct values in 300 rows ('u0', 'u1', ...): one category each, rarely
    seen again, so it cannot help predict (an identifier? --ignore it; numbers written with
    symbols? a --transform can read them)
    field 'fee' has 300 distinct values in 300 rows ('$0,000', '$1,000', ...): one category
    each, rarely seen again, so it cannot help predict (an identifier? --ignore it; numbers
    written with symbols? a --transform can read them)
    field 'sqm' holds numbers and text ('1,250'): each text is a category beside the number (a
    thousands separator, a unit or a missing-value marker? --transform can read it)
    """
    paths = encoder.missing_counts()
    categories: dict[str, list[str]] = {}
    for name in encoder.feature_names:
        path, sep, value = name.partition("=")
        if sep and path in paths:
            categories.setdefault(path, []).append(value)
    rows, out = encoder.n_events, {}
    if rows >= _CATEGORIES_AFTER:
        for path, values in categories.items():
            if len(values) * 2 > rows:
                shown = ", ".join(repr(v) for v in values[:2])
                out[path] = (f"field {path!r} has {len(values):,} distinct values in {rows:,} rows "
                             f"({shown}, ...): one category each, rarely seen again, so it cannot "
                             f"help predict (an identifier? --ignore it; numbers written with "
                             f"symbols? a --transform can read them)")
    for path in encoder.mixed_fields:
        if path not in out:
            shown = ", ".join(repr(v) for v in categories.get(path, [])[:3])
            out[path] = (f"field {path!r} holds numbers and text ({shown}): each text is a "
                         f"category beside the number (a thousands separator, a unit or a "
                         f"missing-value marker? --transform can read it)")
    return out


def unmatched_patterns(encoder: FeatureEncoder, event: Mapping) -> list[str]:
    """Warnings for the ``include``, ``ignore`` and ``categorical`` patterns of ``encoder`` that
    match no field of ``event`` (a typo leaves a field in, or out, unsaid), with a did-you-mean.

    >>> from online_lr.encoding import FeatureEncoder
    >>> enc = FeatureEncoder(target="y", include=["bmi", "bpp", "user.*"], ignore=["Age"])
    >>> for text in unmatched_patterns(enc, {"bmi": 1, "bp": 2, "age": 3, "user": {"id": 4}}):
    ...     print(text)
    --include pattern 'bpp' matches no field of the first row; did you mean 'bp'?
    --ignore pattern 'Age' matches no field of the first row; did you mean 'age'?
    """
    paths = list(_paths(event))
    out = []
    for flag, patterns in (("--include", encoder.include), ("--ignore", encoder.ignore),
                           ("--categorical", encoder.categorical)):
        for pattern in patterns or ():
            if not any(fnmatch.fnmatchcase(path, pattern) for path in paths):
                folded = [p for p in paths if p.lower() == pattern.lower()]
                close = folded or difflib.get_close_matches(pattern, paths, n=3, cutoff=0.6)
                hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
                out.append(f"{flag} pattern {pattern!r} matches no field of the first row{hint}")
    return out


def _paths(event: Mapping, prefix: str = "") -> Iterator[str]:
    """The dotted paths of ``event``: its fields, and those of its objects."""
    for name, value in event.items():
        path = f"{prefix}{name}"
        yield path
        if isinstance(value, Mapping):
            yield from _paths(value, f"{path}.")


def _patterns(names: Sequence[str] | None) -> list[str] | None:
    return None if names is None else list(names)


def encoder_params(fields: FieldsSettings) -> dict:
    """The `FeatureEncoder` parameters the ``fields`` settings stand for (1:1 but
    ``features``, the old name of an ``include`` list)."""
    include = fields.include if fields.features is None else fields.features
    return {
        "target": fields.target,
        "timestamp": fields.timestamp,
        "categorical": _patterns(fields.categorical),
        "include": _patterns(include),
        "ignore": _patterns(fields.ignore) or None,
        "transform": fields.transform,
        "encoding": fields.encoding,
        "hash_bits": fields.hash_bits,
        "max_features": fields.max_features,
        "overflow": fields.overflow,
        "number_strings": fields.number_strings,
    }


def build_encoder(fields: FieldsSettings) -> FeatureEncoder:
    """A fresh encoder for the ``fields`` settings; a bad setting is a `ConfigError` naming
    ``fields.<name>``."""
    from online_lr.encoding import FeatureEncoder

    try:
        return FeatureEncoder(**encoder_params(fields))
    except ValueError as exc:
        name, _, why = str(exc).partition(": ")
        raise ConfigError(f"fields.{name}", why or str(exc)) from None


def saved_encoder(saved: Mapping | None, fields: FieldsSettings) -> FeatureEncoder:
    """The encoder of a checkpoint (its ``schema`` entry), checked against the settings.

    The saved encoder wins (its columns are the model's features); settings that differ from
    it are refused, naming the field, since the model's weights would no longer mean what they
    meant. A checkpoint written before encoders (a list of numeric ``features``) is resumed
    with those fields as an ``include`` list: its numbers are encoded as before.
    """
    from online_lr.encoding import FORMAT, FeatureEncoder

    configured = encoder_params(fields)
    if saved is None:
        return build_encoder(fields)
    if saved.get("format") != FORMAT:
        if "features" not in saved:
            raise CheckpointError(f"the checkpoint's schema is not a {FORMAT} state: {saved!r}")
        return _from_old_schema(saved, fields)
    try:
        encoder = FeatureEncoder.from_dict(saved)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"the checkpoint's encoder cannot be restored: {exc}") from None
    had = saved["params"]
    for name, value in configured.items():
        if _comparable(had.get(name)) != _comparable(value):
            raise ConfigError(
                f"fields.{'features' if name == 'include' and fields.features else name}",
                f"the checkpoint was learned with {name}={had.get(name)!r}, the config says "
                f"{value!r}; start afresh with --fresh (or another checkpoint path)",
            )
    return encoder


def _comparable(value: object) -> object:
    return list(value) if isinstance(value, (list, tuple)) else value


def _from_old_schema(saved: Mapping, fields: FieldsSettings) -> FeatureEncoder:
    """An encoder for a checkpoint of numeric ``features`` (before encoders)."""
    if saved.get("target") != fields.target:
        raise ConfigError("fields.target", f"the checkpoint was learned with target "
                                           f"{saved.get('target')!r}, the config says "
                                           f"{fields.target!r}")
    features = saved.get("features")
    if features is None:  # saved before the first valid message: nothing learned from fields
        return build_encoder(fields)
    from msgspec.structs import replace

    return build_encoder(replace(fields, features=tuple(features), include=None))
