"""consumers.mixing: the sample-weighted average of the workers' models, without a broker."""

from __future__ import annotations

import json

import pytest

from consumers.mixing import ModelSnapshot, ParameterMixer, PeerTable, mix
from online_lr import SGDRegressor


def snap(worker: str, version: int, samples: int, weights: dict, intercept: float = 0.0):
    return ModelSnapshot(worker, version, samples, weights, intercept)


def test_mix_is_the_sample_weighted_average():
    m = mix([snap("a", 1, 1, {"x": 1.0, "y": -2.0}, 4.0), snap("b", 1, 3, {"x": 5.0}, 0.0)])
    assert m.weights == pytest.approx({"x": 4.0, "y": -0.5})
    assert m.intercept == pytest.approx(1.0)
    assert (m.samples, m.workers) == (4, ("a", "b"))


def test_mix_of_nothing_or_of_empty_models_is_none():
    assert mix([]) is None
    assert mix([snap("a", 1, 0, {"x": 1.0})]) is None
    only = mix([snap("a", 1, 0, {"x": 9.0}), snap("b", 1, 2, {"x": 1.0})])
    assert only.weights == {"x": 1.0} and only.workers == ("b",)  # no samples, no say


def test_stale_versions_are_ignored():
    table = PeerTable()
    assert table.offer(snap("a", 5, 10, {"x": 1.0}))
    assert not table.offer(snap("a", 4, 99, {"x": 7.0}))
    assert not table.offer(snap("a", 5, 99, {"x": 7.0}))
    assert table.offer(snap("b", 1, 1, {"x": 2.0}))
    assert table.latest["a"].weights == {"x": 1.0}
    assert [s.worker for s in table.peers(of="b")] == ["a"]


def test_snapshot_round_trip_and_refusals():
    s = snap("w", 3, 7, {"x": 0.5}, 1.5)
    assert ModelSnapshot.from_dict(json.loads(json.dumps(s.to_dict()))) == s
    for bad in ({}, {**s.to_dict(), "weights": {"x": float("nan")}},
                {**s.to_dict(), "samples": -1}, {**s.to_dict(), "version": "v"}):
        with pytest.raises(ValueError):
            ModelSnapshot.from_dict(bad)


def test_mixer_publishes_every_k_updates_and_sets_the_average():
    model = SGDRegressor(learning_rate=0.1, intercept_lr=0.1, intercept_init=0.0)
    published: list[ModelSnapshot] = []
    peer = snap("peer", 1, 30, {"x": 10.0}, 2.0)
    inbox = [peer]
    mixer = ParameterMixer("me", 10, published.append, lambda: [inbox.pop()] if inbox else [])
    assert not mixer.maybe_mix(model)  # 0 updates
    for _ in range(10):
        model.learn_one({"x": 1.0}, 1.0)
    own_w, own_b = model.weights["x"], model.intercept
    assert mixer.maybe_mix(model)
    assert [p.worker for p in published] == ["me"] and published[0].samples == 10
    assert model.weights["x"] == pytest.approx((10 * own_w + 30 * 10.0) / 40)
    assert model.intercept == pytest.approx((10 * own_b + 30 * 2.0) / 40)
    assert model.n_updates == 10 and mixer.mixes == 1  # mixing is not learning
    assert not mixer.maybe_mix(model)  # not due again before 10 more updates
    v = mixer.version
    for _ in range(10):
        model.learn_one({"x": 1.0}, 1.0)
    assert mixer.maybe_mix(model) and mixer.version > v
