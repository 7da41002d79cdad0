"""Fixtures shared by the consumers tests."""

from __future__ import annotations

import kafka_helpers
import pytest

from consumers.clients import CLIENTS

KAFKA_FIXTURES = ("kafka_bootstrap", "kafka_broker")
#: The poll timeout (``stream.poll_timeout``, default 1 s) of a client's consumers in its broker
#: tests. confluent's consume() waits all of it for a full batch, so a run that stops at the end
#: of its partitions ends a second or two sooner at 0.1 s; what a test asserts does not depend
#: on it. kafka-python's poll returns as soon as records arrive, and its group members at 0.1 s
#: sometimes never (re)joined (3 of 24 scale-out and rebalance runs, none of 24 at 1 s): it
#: keeps the default.
BROKER_TEST_POLL_TIMEOUT_S = {"confluent": "0.1"}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that uses ``kafka_client`` and the real broker runs once per client library
    (once, with kafka-python, when marked ``kafka_python_only``: it tests that client itself)."""
    names = metafunc.fixturenames
    if "kafka_client" in names and any(f in names for f in KAFKA_FIXTURES):
        only = metafunc.definition.get_closest_marker("kafka_python_only")
        metafunc.parametrize("kafka_client", CLIENTS[:1] if only else CLIENTS, indirect=True)


@pytest.fixture
def kafka_client(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """The Kafka client library of this test run (see `kafka_helpers.client_args`), and its
    `BROKER_TEST_POLL_TIMEOUT_S` (an ``ONLINE_LR_*`` setting: a subprocess inherits it).

    A module opts in with ``pytestmark = pytest.mark.usefixtures("kafka_client")``; its tests
    without a broker run once, with the default client.
    """
    client = getattr(request, "param", CLIENTS[0])
    kafka_helpers.CLIENT = client
    if client in BROKER_TEST_POLL_TIMEOUT_S:
        monkeypatch.setenv("ONLINE_LR_STREAM__POLL_TIMEOUT", BROKER_TEST_POLL_TIMEOUT_S[client])
    try:
        yield client
    finally:
        kafka_helpers.CLIENT = CLIENTS[0]


def _assert_same_model(a, b, tol: float = 1e-9) -> None:
    """Same updates, weights, intercept and running MSE, to ``tol``."""
    assert a.n_updates == b.n_updates
    assert a.weights.keys() == b.weights.keys()
    for k in a.weights:
        assert a.weights[k] == pytest.approx(b.weights[k], rel=tol, abs=tol)
    assert a.intercept == pytest.approx(b.intercept, rel=tol, abs=tol)
    assert a.running_mse == pytest.approx(b.running_mse, rel=tol)


@pytest.fixture
def assert_same_model():
    return _assert_same_model
