"""Shared pytest fixtures: a real local Kafka broker, started on demand.

Only tests that request ``kafka_bootstrap`` or ``kafka_broker`` start the broker (once per
session, through ``scripts/kafka-local``); such tests get the ``kafka`` marker automatically, so
``pytest -m "not kafka"`` runs everything else. If the broker cannot start, the tests are
skipped locally but fail when the ``CI`` environment variable is set.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
LAUNCHER = REPO_ROOT / "scripts" / "kafka-local"
KAFKA_FIXTURES = ("kafka_bootstrap", "kafka_broker")
# The first start may fetch Kafka with Maven, which can take minutes.
START_DEADLINE_S = 1200
STOP_DEADLINE_S = 60


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "kafka: needs the real local Kafka broker (scripts/kafka-local)")
    config.addinivalue_line(
        "markers", "kafka_python_only: a broker test of kafka-python itself, not run per client")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if any(name in getattr(item, "fixturenames", ()) for name in KAFKA_FIXTURES):
            item.add_marker(pytest.mark.kafka)


def _in_ci() -> bool:
    return bool(os.environ.get("CI"))


def _launcher(state_dir: Path, command: str, timeout: float,
              *options: str) -> subprocess.CompletedProcess:
    """Run `scripts/kafka-local --state-dir DIR [OPTIONS] COMMAND` with this interpreter."""
    return subprocess.run(
        [sys.executable, str(LAUNCHER), "--state-dir", str(state_dir), *options, command],
        cwd=REPO_ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=timeout, check=False)


def _bootstrap_from(proc: subprocess.CompletedProcess) -> str:
    lines = proc.stdout.strip().splitlines()
    return lines[-1].strip() if lines else ""


def _unavailable(reason: str) -> NoReturn:
    """Fail in CI (never skip there), skip elsewhere."""
    if _in_ci():
        raise pytest.fail.Exception(f"local Kafka broker unavailable in CI: {reason}",
                                    pytrace=False)
    raise pytest.skip.Exception(f"local Kafka broker unavailable: {reason}")


@dataclass
class KafkaBroker:
    """Handle on the session's broker, for outage tests."""

    state_dir: Path
    bootstrap: str

    def pause(self) -> None:
        """Stop the broker (SIGTERM) but keep its data, port and state."""
        self._run("pause", STOP_DEADLINE_S)

    def resume(self) -> None:
        """Start the paused broker again on the same port with the same data; wait for it."""
        address = _bootstrap_from(self._run("resume", START_DEADLINE_S))
        assert address == self.bootstrap, f"broker came back on {address}, not {self.bootstrap}"

    @contextlib.contextmanager
    def outage(self) -> Iterator[None]:
        """Pause the broker for the body of a `with` block; it is resumed even on errors."""
        self.pause()
        try:
            yield
        finally:
            self.resume()

    def _run(self, command: str, timeout: float) -> subprocess.CompletedProcess:
        proc = _launcher(self.state_dir, command, timeout)
        if proc.returncode != 0:
            pytest.fail(f"kafka-local {command} failed ({proc.returncode}):\n{proc.stderr}",
                        pytrace=False)
        return proc


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """A real single-node Kafka broker on 127.0.0.1 for the whole session."""
    state_dir = tmp_path_factory.mktemp("kafka-local")
    try:
        # --owner-pid: the broker is stopped even if this run is killed before teardown.
        proc = _launcher(state_dir, "start", START_DEADLINE_S, "--owner-pid", str(os.getpid()))
    except (OSError, subprocess.TimeoutExpired) as error:
        _launcher(state_dir, "stop", STOP_DEADLINE_S)
        _unavailable(f"kafka-local start did not finish: {error}")
    bootstrap = _bootstrap_from(proc)
    if proc.returncode != 0 or not bootstrap:
        _unavailable(f"kafka-local start exited {proc.returncode}:\n{proc.stderr}")
    broker = KafkaBroker(state_dir=state_dir, bootstrap=bootstrap)
    try:
        yield broker
    finally:
        _launcher(state_dir, "stop", STOP_DEADLINE_S)


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: KafkaBroker) -> str:
    """The bootstrap address ("127.0.0.1:PORT") of the session's Kafka broker."""
    return kafka_broker.bootstrap
