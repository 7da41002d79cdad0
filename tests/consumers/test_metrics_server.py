"""``--metrics-port``: Prometheus metrics scraped over HTTP during a real consume."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
import time
import urllib.request

import orjson
import pytest
from kafka_helpers import produce_values

from consumers.checkpoint import read_checkpoint
from consumers.cli import main
from online_lr import SGDRegressor

#: A backstop only: the run is stopped once the scrape has seen it all.
BACKSTOP_IDLE_S = "30"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port: int) -> dict[str, float]:
    """``{"name{labels}": value}`` of every sample on the endpoint."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            samples[key] = float(value)
    return samples


def scrape_until(port: int, done, timeout: float = 25.0) -> dict[str, float]:
    """Scrape until ``done(samples)``; the last samples (``{}`` if the port never answered)."""
    seen: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):  # not listening yet
            seen = scrape(port)
        if done(seen):
            break
        time.sleep(0.05)
    return seen


def test_metrics_are_served_during_a_consume(kafka_bootstrap, tmp_path, capsys):
    """Scraped while the run is idle after its last message; then stopped as by SIGTERM (the
    idle timeout is only a backstop)."""
    n_good, poison = 300, [b"{broken", b"[1]", b"{broken again"]
    values = [orjson.dumps({"a": i / 10, "b": 1.0, "y": 0.3 * i / 10 + 1.0}) for i in range(n_good)]
    values += poison
    topic = f"metrics-{time.monotonic_ns()}"
    produce_values(kafka_bootstrap, topic, values)
    ckpt, port = tmp_path / "c.json", free_port()
    scraped: list[dict[str, float]] = []

    def all_consumed_and_checkpointed(seen: dict[str, float]) -> bool:
        return (seen.get("online_lr_messages_consumed_total") == len(values)
                and "online_lr_checkpoint_age_seconds" in seen)

    def scrape_then_stop() -> None:
        scraped.append(scrape_until(port, all_consumed_and_checkpointed))
        os.kill(os.getpid(), signal.SIGTERM)  # the run's handler: stop after this batch

    scraper = threading.Thread(target=scrape_then_stop)
    # Ignored outside the run (the run installs its own handler, then puts this one back).
    outside = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        scraper.start()
        code = main([
            "consume", "-q", "--bootstrap-servers", kafka_bootstrap, "--topic", topic,
            "--group", f"g-{topic}", "--checkpoint", str(ckpt), "--idle-timeout", BACKSTOP_IDLE_S,
            "--batch-size", "50", "--checkpoint-every", "100", "--metrics-port", str(port),
        ])
        scraper.join(timeout=60)
    finally:
        signal.signal(signal.SIGTERM, outside)
    assert code == 0
    assert "stopped:         stopped" in capsys.readouterr().out  # by the signal, not idle
    (seen,) = scraped
    assert seen["online_lr_messages_consumed_total"] == len(values)
    assert "process_cpu_seconds_total" in seen  # the standard collectors too
    assert seen["online_lr_messages_learned_total"] == n_good
    assert seen["online_lr_messages_predicted_total"] == 0
    assert seen['online_lr_messages_dead_lettered_total{reason="invalid_json"}'] == 2
    assert seen['online_lr_messages_dead_lettered_total{reason="not_object"}'] == 1
    assert seen[f'online_lr_partition_lag{{partition="0",topic="{topic}"}}'] == 0
    assert 0 <= seen["online_lr_checkpoint_age_seconds"] < 30
    model = SGDRegressor.from_dict(read_checkpoint(ckpt).model)
    # Idle after the last message: the gauges show the model the final checkpoint holds.
    assert seen["online_lr_running_mse"] == pytest.approx(model.running_mse, rel=1e-12)
    assert seen["online_lr_rolling_mse"] == pytest.approx(model.rolling_mse, rel=1e-12)
    assert seen["online_lr_learning_rate"] == pytest.approx(model.learning_rate_now)
    assert seen["online_lr_model_updates"] == model.n_updates == n_good
    # The baseline (always predicting the running mean of the target) of the same rows.
    reference = SGDRegressor()
    for i in range(n_good):
        reference.learn_one({"a": i / 10, "b": 1.0}, 0.3 * i / 10 + 1.0)
    for name in ("baseline_running_mse", "baseline_rolling_mse"):
        assert seen[f"online_lr_{name}"] == pytest.approx(getattr(reference, name), rel=1e-9)
    with pytest.raises(OSError):  # the server stops with the run
        scrape(port)


def test_prometheus_client_is_not_imported_without_a_port():
    import subprocess

    code = ("import sys, consumers.cli, consumers.wiring, consumers.metrics_server; "
            "print('prometheus_client' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_endpoint_serves_the_standard_process_and_python_metrics_on_the_host_given():
    from consumers.cli import build_parser
    from consumers.metrics_server import MetricsServer

    args = build_parser().parse_args(["consume", "--metrics-port", "0", "--metrics-host",
                                      "0.0.0.0"])
    assert vars(args)["run.metrics_host"] == "0.0.0.0"

    class Nothing:
        def describe(self):
            return []

        def collect(self):
            return iter(())

    server = MetricsServer(Nothing(), 0, host="0.0.0.0")
    try:
        assert server.host == "0.0.0.0"  # as bound
        seen = scrape(server.port)
    finally:
        server.close()
    assert seen["process_cpu_seconds_total"] > 0 and seen["process_resident_memory_bytes"] > 0
    assert any(key.startswith("python_info{") for key in seen)
