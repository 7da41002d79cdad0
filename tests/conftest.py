"""Shared pytest fixtures: a real local Kafka broker, started on demand.

Only tests that request ``kafka_bootstrap`` or ``kafka_broker`` start the broker (once per
session, through ``scripts/kafka-local``); such tests get the ``kafka`` marker automatically, so
``pytest -m "not kafka"`` runs everything else. The broker starts in the background once such a
test is collected, while the tests before the first of them run. If the broker cannot start, the
tests are skipped locally but fail when the ``CI`` environment variable is set.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
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


@dataclass
class _Start:
    """``kafka-local start`` running in the background: its state dir and process."""

    state_dir: Path
    process: subprocess.Popen

    @classmethod
    def begin(cls) -> _Start:
        state_dir = Path(tempfile.mkdtemp(prefix="kafka-local-"))
        # --owner-pid: the broker is stopped even if this run is killed before teardown.
        command = _launcher_command(state_dir, "start", "--owner-pid", str(os.getpid()))
        with open(state_dir / "start.log", "wb") as progress:  # a first start may log a lot
            process = subprocess.Popen(command, cwd=REPO_ROOT, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.PIPE, stderr=progress, text=True)
        return cls(state_dir, process)

    def stop(self) -> None:
        """Stop the broker (a start still under way ends itself on SIGTERM); remove the state
        dir."""
        if self.process.poll() is None:
            self.process.terminate()
            self.process.communicate(timeout=STOP_DEADLINE_S)
        _launcher(self.state_dir, "stop", STOP_DEADLINE_S)
        shutil.rmtree(self.state_dir, ignore_errors=True)


#: The background start of this session's broker (`pytest_collection_finish`).
_EARLY_START = pytest.StashKey[_Start]()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the broker in the background if a selected test needs it."""
    if session.config.option.collectonly:
        return
    if any(item.get_closest_marker("kafka") for item in session.items):
        session.config.stash[_EARLY_START] = _Start.begin()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A broker started for tests that never asked for it (stopped early, -x) is stopped."""
    start = session.config.stash.get(_EARLY_START, None)
    if start is not None:
        start.stop()


def _in_ci() -> bool:
    return bool(os.environ.get("CI"))


def _launcher_command(state_dir: Path, command: str, *options: str) -> list[str]:
    """`scripts/kafka-local --state-dir DIR [OPTIONS] COMMAND` with this interpreter."""
    return [sys.executable, str(LAUNCHER), "--state-dir", str(state_dir), *options, command]


def _launcher(state_dir: Path, command: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(_launcher_command(state_dir, command), cwd=REPO_ROOT,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout, check=False)


def _bootstrap_from(stdout: str) -> str:
    lines = stdout.strip().splitlines()
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
        address = _bootstrap_from(self._run("resume", START_DEADLINE_S).stdout)
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
def kafka_broker(request: pytest.FixtureRequest) -> KafkaBroker:
    """A real single-node Kafka broker on 127.0.0.1 for the whole session."""
    stash = request.config.stash
    start = stash[_EARLY_START] if _EARLY_START in stash else _Start.begin()
    stash[_EARLY_START] = start  # stopped at the end of the session, whatever happens here
    try:
        out, _ = start.process.communicate(timeout=START_DEADLINE_S)
    except subprocess.TimeoutExpired as error:
        start.process.kill()
        _unavailable(f"kafka-local start did not finish: {error}")
    bootstrap = _bootstrap_from(out)
    if start.process.returncode != 0 or not bootstrap:
        progress = (start.state_dir / "start.log").read_text(errors="replace")
        _unavailable(f"kafka-local start exited {start.process.returncode}:\n{progress}")
    return KafkaBroker(state_dir=start.state_dir, bootstrap=bootstrap)


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: KafkaBroker) -> str:
    """The bootstrap address ("127.0.0.1:PORT") of the session's Kafka broker."""
    return kafka_broker.bootstrap
