"""Iterative parameter mixing: workers average their models, weighted by what each learned.

Each worker of a consumer group learns on its own partitions and, every ``every`` updates,
publishes a `ModelSnapshot` of its model and replaces its weights and intercept by the
sample-weighted average of its own snapshot and its peers' latest ones (McDonald, Hall and Mann,
2010 [^1]): with ``n_i`` the updates worker ``i`` made itself,

    w = Σ n_i w_i / Σ n_i,    b = Σ n_i b_i / Σ n_i.

A feature a worker never saw has weight 0 in that worker's model, which is what a linear model
that never saw it predicts with. Only weights and intercept are mixed: each worker keeps its own
step count (so the step counts of the workers still add up to the labelled rows learned),
optimizer state and metrics.

This module is pure: publishing and fetching snapshots are callables handed to
`ParameterMixer` (see `consumers.model_topic` for the Kafka side).

>>> a = ModelSnapshot("a", 1, samples=300, weights={"x": 1.0}, intercept=0.0)
>>> b = ModelSnapshot("b", 7, samples=100, weights={"x": 2.0, "z": 4.0}, intercept=1.0)
>>> m = mix([a, b])
>>> m.weights, m.intercept, m.samples, m.workers
({'x': 1.25, 'z': 1.0}, 0.25, 400, ('a', 'b'))

References
----------
[^1]: McDonald, R., Hall, K. and Mann, G., 2010. Distributed training strategies for the
    structured perceptron. NAACL HLT.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FORMAT", "MixedModel", "ModelSnapshot", "ParameterMixer", "PeerTable", "mix"]

logger = logging.getLogger(__name__)

FORMAT = "online-lr-model-snapshot"


@dataclass(frozen=True)
class ModelSnapshot:
    """One worker's parameters at one moment.

    Parameters
    ----------
    worker
        Stable id of the worker (the model topic's record key).
    version
        Increases with every snapshot the worker publishes (across its restarts too).
    samples
        Updates the worker made itself (its model's ``n_updates``): its weight in the average.
    weights, intercept
        The linear model.
    published_at
        Unix seconds, informative.
    """

    worker: str
    version: int
    samples: int
    weights: Mapping[str, float]
    intercept: float
    published_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "worker": self.worker, "version": self.version,
            "samples": self.samples, "weights": dict(self.weights),
            "intercept": self.intercept, "published_at": self.published_at,
        }

    @classmethod
    def from_dict(cls, data: Any) -> ModelSnapshot:
        """Parse a snapshot; anything malformed or non-finite raises `ValueError`."""
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise ValueError(f"not an {FORMAT} document")
        try:
            snap = cls(
                worker=str(data["worker"]), version=int(data["version"]),
                samples=int(data["samples"]),
                weights={str(k): float(v) for k, v in data["weights"].items()},
                intercept=float(data["intercept"]), published_at=data.get("published_at"),
            )
        except (KeyError, TypeError, AttributeError, ValueError) as err:
            raise ValueError(f"malformed {FORMAT} document: {err!r}") from None
        values = [snap.intercept, *snap.weights.values()]
        if snap.samples < 0 or not all(math.isfinite(v) for v in values):
            raise ValueError("a snapshot needs samples >= 0 and finite parameters")
        return snap


@dataclass(frozen=True)
class MixedModel:
    """The sample-weighted average of some snapshots."""

    weights: dict[str, float]
    intercept: float
    samples: int
    workers: tuple[str, ...]


def mix(snapshots: Iterable[ModelSnapshot]) -> MixedModel | None:
    """Sample-weighted average of ``snapshots``; ``None`` if together they learned nothing."""
    snaps = [s for s in snapshots if s.samples > 0]
    total = sum(s.samples for s in snaps)
    if total == 0:
        return None
    weights: dict[str, float] = {}
    for s in snaps:
        share = s.samples / total
        for name, value in s.weights.items():
            weights[name] = weights.get(name, 0.0) + share * value
    intercept = sum(s.samples * s.intercept for s in snaps) / total
    return MixedModel(weights, intercept, total, tuple(sorted(s.worker for s in snaps)))


@dataclass
class PeerTable:
    """The latest snapshot of each worker; an older or equal version never replaces a newer one."""

    latest: dict[str, ModelSnapshot] = field(default_factory=dict)

    def offer(self, snapshot: ModelSnapshot) -> bool:
        """Keep ``snapshot`` if it is the newest of its worker; True if kept."""
        known = self.latest.get(snapshot.worker)
        if known is not None and snapshot.version <= known.version:
            return False
        self.latest[snapshot.worker] = snapshot
        return True

    def peers(self, of: str) -> list[ModelSnapshot]:
        """Every worker's latest snapshot but ``of``'s own."""
        return [s for w, s in sorted(self.latest.items()) if w != of]


class ParameterMixer:
    """Every ``every`` updates: publish the model, fold in the peers' latest, set the average.

    Parameters
    ----------
    worker
        This worker's id.
    every
        Updates (of this worker) between two mixes.
    publish
        Sends a snapshot to the peers (must not block for long).
    fetch
        Returns the snapshots that arrived since the last call, without blocking.
    clock
        Wall clock (Unix seconds): versions are microseconds of it, made strictly increasing,
        so a restarted worker's snapshots supersede those it published before.
    """

    def __init__(
        self,
        worker: str,
        every: int,
        publish: Callable[[ModelSnapshot], None],
        fetch: Callable[[], Iterable[ModelSnapshot]],
        *,
        clock: Callable[[], float] = time.time,
    ):
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every!r}")
        self.worker = worker
        self.every = every
        self.publish = publish
        self.fetch = fetch
        self.table = PeerTable()
        self.version = 0
        self.mixes = 0
        self._clock = clock
        self._last_mix_at: int | None = None

    def __call__(self, runner: Any) -> None:
        """The runner's after-batch hook: mix ``runner.model`` if ``every`` updates passed."""
        self.maybe_mix(runner.model)

    def maybe_mix(self, model: Any) -> bool:
        """Mix ``model`` (an `SGDRegressor`) in place if due; True if it was."""
        if self._last_mix_at is None:
            self._last_mix_at = model.n_updates  # a restart counts from its checkpoint
        if model.n_updates - self._last_mix_at < self.every:
            return False
        self.mix_now(model)
        return True

    def mix_now(self, model: Any) -> MixedModel | None:
        """Publish ``model``, read the peers, and set ``model`` to the weighted average."""
        own = self.snapshot(model)
        self.publish(own)
        for snap in self.fetch():
            self.table.offer(snap)
        self._last_mix_at = model.n_updates
        mixed = mix([own, *self.table.peers(self.worker)])
        if mixed is None or len(mixed.workers) < 2:
            return mixed
        model.set_parameters(mixed.weights, mixed.intercept)
        self.mixes += 1
        logger.debug("mixed with %s (%d samples)", mixed.workers, mixed.samples)
        return mixed

    def snapshot(self, model: Any) -> ModelSnapshot:
        now = self._clock()
        self.version = max(self.version + 1, int(now * 1_000_000))
        return ModelSnapshot(
            self.worker, self.version, int(model.n_updates),
            {str(k): float(v) for k, v in model.weights.items()}, float(model.intercept),
            published_at=round(now, 3),
        )
