"""consumers.schema: feature selection and its reconciliation with a checkpoint."""

from __future__ import annotations

import pytest

from consumers.schema import Schema


def test_candidates_are_numeric_non_bool_fields_in_message_order():
    s = Schema(target="t", ignore=("id",))
    obj = {"z": 1, "id": 2, "t": 3.0, "a": 2.5, "s": "x", "b": True, "n": None, "l": [1]}
    assert s.candidates(obj) == ("z", "a")


def test_fix_once():
    s = Schema()
    s.fix(["a"])
    assert s.fixed and s.features == ("a",)
    with pytest.raises(RuntimeError):
        s.fix(["b"])


@pytest.mark.parametrize(
    "kwargs",
    [{"features": []}, {"features": ["y", "a"]}, {"features": ["a", "a"]}],
)
def test_explicit_features_are_validated(kwargs):
    with pytest.raises(ValueError):
        Schema(target="y", **kwargs)


def test_round_trip():
    for s in (Schema(), Schema(target="p", features=("a", "b"), ignore=("c",))):
        assert Schema.from_dict(s.to_dict()) == s
    inferred = Schema(ignore=("c",))
    inferred.fix(("a",))
    back = Schema.from_dict(inferred.to_dict())
    assert back == inferred and not back.explicit


def test_reconcile_adopts_the_saved_inferred_features():
    saved = Schema()
    saved.fix(("a", "b"))
    merged = Schema().reconcile(saved)
    assert merged.features == ("a", "b") and not merged.explicit


def test_reconcile_refuses_another_target_or_other_explicit_features():
    saved = Schema(target="y", features=("a", "b"))
    with pytest.raises(ValueError, match="target"):
        Schema(target="z").reconcile(saved)
    with pytest.raises(ValueError, match="features"):
        Schema(target="y", features=("a",)).reconcile(saved)
    assert Schema(target="y", features=("a", "b")).reconcile(saved).features == ("a", "b")
