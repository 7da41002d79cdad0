"""A ``fields.transform`` for the tests: events whose features are a JSON string in ``v``."""

from __future__ import annotations

import json


def unwrap(event: dict) -> dict:
    """``{"v": '{"a": 1}', "y": 2}`` -> ``{"a": 1, "y": 2}``; no ``v``: KeyError."""
    return {**json.loads(event["v"]), "y": event.get("y")}
