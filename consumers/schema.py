"""Feature selection: which fields of a message are features, and which one is the target.

Either the features are listed explicitly, or they are inferred from the first *valid* message:
every numeric field (int or float, not bool) except the target and the ``ignore`` fields, in the
order the message lists them. Once fixed the schema never changes: later unknown fields are
ignored and a message missing a schema feature is invalid. The fixed schema is saved in the
checkpoint so that a restarted consumer keeps the same features.

>>> s = Schema(target="y", ignore=("id",))
>>> s.candidates({"id": 7, "a": 1.0, "name": "x", "b": 2, "flag": True, "y": 3.0})
('a', 'b')
>>> s.fix(("a", "b")); s.features
('a', 'b')
>>> Schema.from_dict(s.to_dict()) == s
True
>>> for name, why in s.ignored_fields({"id": 7, "a": 1.0, "b": 2, "city": "Lyon",
...                                    "sold": "2021-03-04", "y": 3.0}):
...     print(f"{name}: {why}")
id: listed in ignore
city: a string, not a number
sold: a date/time string, not a number
y: the target
>>> print(unknown_target("Price", ["sqm", "price", "city"]))
the target 'Price' is not a field of the input; fields seen: 'sqm', 'price', 'city'; did you mean 'price'?
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["Schema", "unknown_target"]


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


def unknown_target(target: str, fields: Sequence[str]) -> str:
    """The message for a target that is not among ``fields``, with a did-you-mean."""
    seen = ", ".join(repr(f) for f in fields) or "none"
    folded = [f for f in fields if f.strip().lower() == target.strip().lower()]
    close = folded or difflib.get_close_matches(target, list(fields), n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return f"the target {target!r} is not a field of the input; fields seen: {seen}{hint}"


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
