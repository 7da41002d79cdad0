"""Realistic events for the encoding benchmark and tests: nested, categorical, sparse and late fields.

Not a benchmark itself. `make_events` draws a stream of house-sale events such as::

    {"ts": "2026-01-01T00:00:00Z", "price": 412000.0, "sqm": 81.3, "rooms": 3,
     "user": {"age": 44, "premium": true}, "city": "city-017", "channel": "web",
     "device": "device-04", "tags": ["garden", "quiet"], "discount": 3.5}

The price is linear in the features (numbers on very different scales, one-hot categories, tags
and a boolean) plus Gaussian noise of standard deviation `NOISE_SD`, so the best possible mean
squared error is ``NOISE_SD ** 2``. ``discount`` is missing from 20% of the events (it then adds
nothing to the price), and ``floor`` only appears after event `LATE_FIELD_FROM`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np

NOISE_SD = 20_000.0
LATE_FIELD_FROM = 10_000
CHANNELS = ["web", "app", "agent"]
DEVICES = [f"device-{i:02d}" for i in range(20)]
CITIES = [f"city-{i:03d}" for i in range(200)]
TAGS = ["garden", "quiet", "garage", "view", "renovated", "pool", "balcony", "central"]
NUMERIC = ["sqm", "rooms", "user.age", "user.premium", "discount", "floor"]
CATEGORICAL = ["city", "channel", "device", "tags"]
START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def make_events(n: int, seed: int = 0) -> Iterator[dict]:
    """``n`` events with a price linear in their fields (see the module docstring)."""
    truth = np.random.default_rng(12345)  # the same true model for every seed
    city_effect = truth.normal(0, 60_000, len(CITIES))
    channel_effect = truth.normal(0, 15_000, len(CHANNELS))
    device_effect = truth.normal(0, 10_000, len(DEVICES))
    tag_effect = truth.normal(0, 25_000, len(TAGS))
    city_p = 1.0 / np.arange(1, len(CITIES) + 1)  # a few big cities, a long tail
    city_p /= city_p.sum()

    rng = np.random.default_rng(seed)
    for i in range(n):
        sqm = min(max(float(rng.normal(85, 30)), 15.0), 400.0)
        rooms = int(rng.integers(1, 7))
        age = int(rng.integers(18, 90))
        premium = bool(rng.random() < 0.3)
        city = int(rng.choice(len(CITIES), p=city_p))
        channel, device = int(rng.integers(len(CHANNELS))), int(rng.integers(len(DEVICES)))
        tags = sorted(set(rng.choice(len(TAGS), size=int(rng.integers(0, 4)), replace=True)))
        price = (
            100_000 + 3_000 * sqm + 10_000 * rooms - 300 * age + 20_000 * premium
            + city_effect[city] + channel_effect[channel] + device_effect[device]
            + sum(tag_effect[t] for t in tags)
        )
        event = {
            "ts": (START + dt.timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "sqm": round(sqm, 1), "rooms": rooms,
            "user": {"age": age, "premium": premium},
            "city": CITIES[city], "channel": CHANNELS[channel], "device": DEVICES[device],
            "tags": [TAGS[t] for t in tags],
        }
        if rng.random() < 0.8:
            event["discount"] = round(float(rng.uniform(0, 10)), 2)
            price -= 4_000 * event["discount"]
        if i >= LATE_FIELD_FROM:
            event["floor"] = int(rng.integers(0, 12))
            price += 2_500 * event["floor"]
        event["price"] = round(float(price + rng.normal(0, NOISE_SD)), 2)
        yield event


def flatten(event: dict) -> tuple[dict, float]:
    """An event flattened by hand as a River user would: ``(x, y)`` with dotted nested names."""
    x = {k: v for k, v in event.items() if k not in ("user", "price", "ts")}
    x["user.age"] = event["user"]["age"]
    x["user.premium"] = float(event["user"]["premium"])
    for name in ("discount", "floor"):  # River's `Select` needs every key: missing is 0
        x.setdefault(name, 0.0)
    return x, event["price"]
