"""Fixtures shared by the consumers tests."""

from __future__ import annotations

import kafka_helpers
import pytest

from consumers.clients import CLIENTS

KAFKA_FIXTURES = ("kafka_bootstrap", "kafka_broker")
#: The consumers' poll timeout in the broker tests (``stream.poll_timeout``, default 1 s): a
#: poll that finds nothing waits that long (confluent's also waits for a full batch), so each
#: run that stops at the end of its partitions ends a second or two sooner. What a test
#: asserts never depends on it.
BROKER_TEST_POLL_TIMEOUT_S = "0.1"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that uses ``kafka_client`` and the real broker runs once per client library
    (once, with kafka-python, when marked ``kafka_python_only``: it tests that client itself)."""
    names = metafunc.fixturenames
    if "kafka_client" in names and any(f in names for f in KAFKA_FIXTURES):
        only = metafunc.definition.get_closest_marker("kafka_python_only")
        metafunc.parametrize("kafka_client", CLIENTS[:1] if only else CLIENTS, indirect=True)


@pytest.fixture
def kafka_client(request: pytest.FixtureRequest):
    """The Kafka client library of this test run (see `kafka_helpers.client_args`).

    A module opts in with ``pytestmark = pytest.mark.usefixtures("kafka_client")``; its tests
    without a broker run once, with the default client.
    """
    client = getattr(request, "param", CLIENTS[0])
    kafka_helpers.CLIENT = client
    try:
        yield client
    finally:
        kafka_helpers.CLIENT = CLIENTS[0]


@pytest.fixture(autouse=True)
def _quick_polls(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Broker tests' consumers, in-process or not, poll for `BROKER_TEST_POLL_TIMEOUT_S`
    (an ``ONLINE_LR_*`` setting: a subprocess inherits it)."""
    if request.node.get_closest_marker("kafka"):
        monkeypatch.setenv("ONLINE_LR_STREAM__POLL_TIMEOUT", BROKER_TEST_POLL_TIMEOUT_S)


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
