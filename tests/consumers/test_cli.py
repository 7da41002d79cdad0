"""consumers.cli: the replay command end to end, exit codes, and a fast --help."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from consumers.checkpoint import read_checkpoint
from consumers.cli import main
from online_lr import SGDRegressor

REPO = Path(__file__).resolve().parents[2]


def summary(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def test_help_is_fast_and_imports_nothing_heavy():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "consumers", "--help"], capture_output=True,
                          text=True, env=env, cwd=REPO, timeout=30)
    assert proc.returncode == 0
    for command in ("replay", "produce", "consume"):
        assert command in proc.stdout
    code = (
        "import sys, consumers.cli\n"
        "heavy = {'numpy', 'kafka', 'matplotlib', 'numba', 'river', 'tqdm', 'yaml', 'online_lr'}\n"
        "loaded = heavy & {m.split('.')[0] for m in sys.modules}\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=REPO, timeout=30)


@pytest.mark.parametrize("command", ["replay", "produce", "consume"])
def test_subcommand_help(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert "--config" in capsys.readouterr().out


def test_replay_of_the_bundled_log_matches_a_learn_one_loop_over_river_dataset(capsys):
    from river import datasets

    from consumers.config import load_settings

    assert main(["replay", "-q"]) == 0
    s = summary(capsys.readouterr().out)
    assert s["rows"] == "1001" and s["learned"] == "1001" and s["bad"] == "0"
    assert s["predicted-only"] == "0" and s["stopped"] == "end of input"
    model = SGDRegressor.from_config(load_settings("replay", None).model)  # SGDRegressor()
    for x, y in datasets.TrumpApproval():
        model.learn_one(x, y)
    assert float(s["running MSE"]) == pytest.approx(model.running_mse, rel=1e-5)


def test_replay_checkpoint_resume_and_plot(tmp_path, capsys):
    ckpt, png = tmp_path / "m.ckpt.json", tmp_path / "mse.png"
    assert main(["replay", "-q", "--checkpoint", str(ckpt), "--max-messages", "600",
                 "--batch-size", "128"]) == 0
    first = summary(capsys.readouterr().out)
    assert first["rows"] == "600" and first["stopped"] == "max_messages"
    assert read_checkpoint(ckpt).source["position"] == 600
    assert main(["replay", "-q", "--checkpoint", str(ckpt), "--plot", str(png)]) == 0
    second = summary(capsys.readouterr().out)
    assert second["rows"] == "401 (resumed after 600)"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    resumed = SGDRegressor.from_dict(read_checkpoint(ckpt).model)
    assert main(["replay", "-q", "--checkpoint", str(tmp_path / "whole.json")]) == 0
    whole = SGDRegressor.from_dict(read_checkpoint(tmp_path / "whole.json").model)
    assert resumed.weights == whole.weights and resumed.intercept == whole.intercept
    assert resumed.running_mse == pytest.approx(whole.running_mse, rel=1e-12)
    assert main(["replay", "-q", "--checkpoint", str(ckpt)]) == 0  # nothing left to do
    assert summary(capsys.readouterr().out)["rows"].startswith("0 ")


def test_a_corrupt_checkpoint_is_refused_and_left_alone(tmp_path, capsys):
    ckpt = tmp_path / "m.ckpt.json"
    assert main(["replay", "-q", "--checkpoint", str(ckpt), "--max-messages", "10"]) == 0
    capsys.readouterr()
    damaged = ckpt.read_bytes()[:-40]
    ckpt.write_bytes(damaged)
    assert main(["replay", "-q", "--checkpoint", str(ckpt)]) == 3
    assert "corrupt or truncated" in capsys.readouterr().err
    assert ckpt.read_bytes() == damaged


def test_replay_of_a_jsonl_file_with_flags(tmp_path, capsys):
    path = tmp_path / "d.jsonl"
    rows = [{"t": i, "u": float(i % 5), "v": 1.0 - i % 3, "label": 2.0 * (i % 5)}
            for i in range(60)]
    rows[10] = {"t": 10, "u": 1.0, "v": 1.0}  # prediction only
    lines = [json.dumps(r) for r in rows] + ["{broken"]
    path.write_text("\n".join(lines))
    ckpt = tmp_path / "c.json"
    assert main(["replay", str(path), "--target", "label", "--ignore", "t", "--checkpoint",
                 str(ckpt), "--set", "model.learning_rate=0.2", "-q"]) == 0
    s = summary(capsys.readouterr().out)
    assert (s["rows"], s["learned"], s["predicted-only"], s["bad"]) == ("61", "59", "1", "1")
    saved = read_checkpoint(ckpt)
    assert saved.schema["features"] == ["u", "v"]
    assert SGDRegressor.from_dict(saved.model).learning_rate_now == pytest.approx(0.2)


def test_progress_bar_goes_to_stderr(tmp_path, capsys):
    assert main(["replay", "-q", "--progress", "--batch-size", "100"]) == 0
    captured = capsys.readouterr()
    assert "rows" in captured.err and "running MSE" in captured.err
    assert "rows:" in captured.out


def test_missing_file_and_missing_consume_settings_exit_2(tmp_path, capsys):
    assert main(["replay", str(tmp_path / "nope.csv")]) == 2
    assert "'file.path'" in capsys.readouterr().err
    config = tmp_path / "k.yaml"
    config.write_text("stream: {topic: t, group: null}\n")
    assert main(["consume", "--config", str(config), "--checkpoint", str(tmp_path / "c")]) == 2
    assert "'stream.group'" in capsys.readouterr().err
