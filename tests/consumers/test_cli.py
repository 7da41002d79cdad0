"""consumers.cli: the replay command end to end, exit codes, and a fast --help."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from consumers import cli
from consumers.checkpoint import read_checkpoint
from consumers.cli import main
from online_lr import SGDRegressor

REPO = Path(__file__).resolve().parents[2]



def rows_done(source: dict) -> int:
    """Rows of a one-file replay a checkpoint's position has processed."""
    return source["position"]["row"] + source["skip"]

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


@pytest.mark.parametrize("command", ["replay", "predict", "produce", "consume"])
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
    assert rows_done(read_checkpoint(ckpt).source) == 600
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
    assert saved.schema["feature_names"] == ["u", "v"]
    assert SGDRegressor.from_dict(saved.model).learning_rate_now == pytest.approx(0.2)


def test_a_command_runs_with_the_collector_sized_for_batches(monkeypatch):
    during = []
    monkeypatch.setitem(cli.COMMANDS, "replay",
                        (lambda settings: during.append(gc.get_threshold()) or 0, "replay"))
    before = gc.get_threshold()
    assert main(["replay", "-q"]) == 0
    assert during == [(cli.GC_YOUNG_THRESHOLD, *before[1:])]
    assert gc.get_threshold() == before


def test_openblas_gets_one_thread_unless_the_environment_says_otherwise(monkeypatch):
    monkeypatch.setitem(cli.COMMANDS, "replay", (lambda settings: 0, "replay"))
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    assert main(["replay", "-q"]) == 0
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1"
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    assert main(["replay", "-q"]) == 0
    assert os.environ["OPENBLAS_NUM_THREADS"] == "2"


def test_progress_bar_goes_to_stderr(tmp_path, capsys):
    assert main(["replay", "-q", "--progress", "--batch-size", "100"]) == 0
    captured = capsys.readouterr()
    assert "rows" in captured.err and "running MSE" in captured.err
    assert "rows:" in captured.out


def test_missing_file_and_missing_consume_settings_exit_2(tmp_path, capsys):
    assert main(["replay", str(tmp_path / "nope.csv")]) == 2
    assert "'file.path'" in capsys.readouterr().err
    # produce checks its input before it connects: no broker listens on port 1
    assert main(["produce", str(tmp_path / "nope.csv"), "--topic", "t",
                 "--bootstrap-servers", "127.0.0.1:1"]) == 2
    assert "'file.path': no such file" in capsys.readouterr().err
    config = tmp_path / "k.yaml"
    config.write_text("stream: {topic: t, group: null}\n")
    assert main(["consume", "--config", str(config), "--checkpoint", str(tmp_path / "c")]) == 2
    assert "'stream.group'" in capsys.readouterr().err


# -- a new user's raw file ------------------------------------------------------------------------


def house_csv(path: Path, n: int = 5000, sep: str = ",", bom: bool = False) -> Path:
    """Raw house prices as a spreadsheet exports them: a target near 3e5, a city, a date."""
    import numpy as np

    rng = np.random.default_rng(11)
    lines = [sep.join(["sold", "sqm", "rooms", "age", "city", "price"])]
    for i in range(n):
        sqm, age = rng.uniform(30, 250), rng.uniform(0, 100)
        rooms = max(1, round(sqm / 30 + rng.normal()))
        price = 50_000 + 2_500 * sqm + 8_000 * rooms - 600 * age + rng.normal() * 2e4
        lines.append(sep.join([f"2021-{1 + i % 12:02d}-15", f"{sqm:.1f}", str(rooms),
                               f"{age:.1f}", ("Lyon", "Paris")[i % 2], f"{price:.0f}"]))
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + ("\n".join(lines) + "\n").encode())
    return path


def test_a_raw_house_price_csv_is_learned_loudly_in_every_spreadsheet_dialect(
    tmp_path, capsys, caplog
):
    from consumers.config import build_model

    runs = []
    for name, sep, bom in (("plain", ",", False), ("semicolon", ";", False), ("excel", ",", True)):
        path = house_csv(tmp_path / f"{name}.csv", sep=sep, bom=bom)
        ckpt = tmp_path / f"{name}.ckpt.json"
        caplog.clear()
        assert main(["replay", str(path), "--target", "price", "--timestamp", "sold",
                     "--ignore", "city", "--checkpoint", str(ckpt)]) == 0
        out, err = capsys.readouterr()[0], caplog.text
        s = summary(out)
        assert (s["rows"], s["learned"], s["bad"]) == ("5000", "5000", "0")
        assert "field 'sqm': sqm" in err and "field 'city': no feature" in err
        assert "field 'sold': the timestamp" in err
        model = SGDRegressor.from_dict(read_checkpoint(ckpt).model)
        runs.append(model)
        if model.rolling_mse > model.baseline_rolling_mse:  # until the learner standardizes
            assert "worse than a constant" in err and "WARNING" in s
        else:
            assert "worse than a constant" not in err and "WARNING" not in s
        assert not list(tmp_path.glob("*.lock"))
    assert runs[0].weights == runs[1].weights == runs[2].weights  # the same rows, read alike
    import csv

    import numpy as np

    with open(tmp_path / "plain.csv") as f:
        table = [[float(r[k]) for k in ("sqm", "rooms", "age", "price")] for r in csv.DictReader(f)]
    table = np.array(table)
    reference = build_model({})  # the model the default config builds: SGDRegressor()
    reference.learn_sequential(table[:, :3], table[:, 3], columns=["sqm", "rooms", "age"])
    assert runs[0].running_mse == pytest.approx(reference.running_mse, rel=1e-6)


def test_a_target_that_is_not_a_column_exits_2_with_a_did_you_mean(tmp_path, capsys):
    path = house_csv(tmp_path / "h.csv", n=10, bom=True)
    assert main(["replay", str(path), "--target", "Price", "-q"]) == 2
    err = capsys.readouterr().err
    assert "'Price' is not a field" in err and "did you mean 'price'?" in err
    assert "fields seen: 'sold', 'sqm', 'rooms', 'age', 'city', 'price'" in err
    assert main(["replay", str(path), "-q"]) == 2  # the default config's target
    err = capsys.readouterr().err
    assert "the target 'five_thirty_eight' is not a field" in err
    assert err.rstrip().endswith("'price'; name the target with --target FIELD")


def test_predictions_on_stdout_are_a_csv_alone(tmp_path, capsys):
    import csv
    import io

    path = house_csv(tmp_path / "h.csv", n=30)
    assert main(["replay", str(path), "--target", "price", "--timestamp", "sold",
                 "--predictions", "-", "-q"]) == 0
    out, err = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["row"] for r in rows] == [str(i) for i in range(30)]  # no summary lines in it
    assert summary(err)["rows"] == "30"


@pytest.mark.parametrize("out", ["scores.txt", "missing-dir/scores.csv"])
def test_an_output_that_cannot_be_written_exits_2_before_learning(tmp_path, capsys, out):
    path, ckpt = house_csv(tmp_path / "h.csv", n=30), tmp_path / "c.json"
    assert main(["replay", str(path), "--target", "price", "--checkpoint", str(ckpt),
                 "--predictions", str(tmp_path / out), "-q"]) == 2
    assert "config field 'run.predictions'" in capsys.readouterr().err
    assert not ckpt.exists()  # nothing learned, nothing written
    assert main(["replay", str(path), "--target", "price", "--checkpoint", str(ckpt), "-q"]) == 0
    assert main(["predict", str(path), "--checkpoint", str(ckpt), "--output",
                 str(tmp_path / out)]) == 2
    assert "config field '--output'" in capsys.readouterr().err


def test_a_run_that_learns_nothing_exits_5(tmp_path, capsys, caplog):
    path = tmp_path / "d.csv"
    path.write_text("a,y\n1,x\n2,y\n")
    assert main(["replay", str(path), "--target", "y", "-q"]) == 5
    assert "learned nothing: all 2 rows were refused" in caplog.text
    assert summary(capsys.readouterr().out)["running MSE"] == "n/a"


def test_model_settings_against_a_checkpoint_fresh_and_override(tmp_path, capsys, caplog):
    path, ckpt = house_csv(tmp_path / "h.csv", n=300), tmp_path / "c.json"
    assert main(["replay", str(path), "--target", "price", "--checkpoint", str(ckpt),
                 "--max-messages", "100", "-q"]) == 0
    assert main(["replay", str(path), "--target", "price", "--checkpoint", str(ckpt),
                 "--set", "model.learning_rate=1e-9", "-q"]) == 2
    err = capsys.readouterr().err
    assert "learning_rate (checkpoint 0.01, config 1e-09)" in err and "--fresh" in err
    assert rows_done(read_checkpoint(ckpt).source) == 100  # untouched
    assert main(["replay", str(path), "--target", "price", "--checkpoint", str(ckpt),
                 "--set", "model.learning_rate=1e-9", "--override-checkpoint-params",
                 "-q"]) == 0
    resumed = SGDRegressor.from_dict(read_checkpoint(ckpt).model)
    assert resumed.learning_rate_now == 1e-9 and resumed.n_updates == 300
    assert main(["replay", str(path), "--target", "price", "--checkpoint", str(ckpt),
                 "--set", "model.learning_rate=1e-9", "--fresh", "-q"]) == 5  # a constant wins
    assert "learned nothing better than a constant: the model's rolling MSE" in caplog.text
    fresh = read_checkpoint(ckpt)  # written all the same
    assert fresh.counters["messages"] == 300 and rows_done(fresh.source) == 300
    assert SGDRegressor.from_dict(fresh.model).n_updates == 300


def test_predict_scores_every_row_of_a_file_with_a_checkpoint(tmp_path, capsys):
    import csv

    path, ckpt = house_csv(tmp_path / "h.csv", n=200), tmp_path / "c.json"
    assert main(["replay", str(path), "--target", "price", "--timestamp", "sold", "--checkpoint",
                 str(ckpt), "-q"]) == 0
    new = tmp_path / "new.csv"
    new.write_text("sqm;rooms;age;city;price\n70;3;10;Lyon;x\n;2;5;Paris;\n120,5;4;1;Rome;\n")
    out = tmp_path / "scored.csv"
    assert main(["predict", str(new), "--checkpoint", str(ckpt), "--output", str(out)]) == 0
    assert "scored 3 of 3 rows" in capsys.readouterr().err  # the target is never read
    rows = list(csv.DictReader(out.open()))
    model = SGDRegressor.from_dict(read_checkpoint(ckpt).model)
    assert [r["row"] for r in rows] == ["0", "1", "2"]
    assert float(rows[0]["prediction"]) == pytest.approx(
        model.predict_one({"sqm": 70.0, "rooms": 3.0, "age": 10.0, "city=Lyon": 1.0}), rel=1e-12)
    assert float(rows[1]["prediction"]) == pytest.approx(  # a missing feature is 0
        model.predict_one({"rooms": 2.0, "age": 5.0, "city=Paris": 1.0}), rel=1e-12)
    assert float(rows[2]["prediction"]) == pytest.approx(  # a decimal comma; a new city
        model.predict_one({"sqm": 120.5, "rooms": 4.0, "age": 1.0}), rel=1e-12)
    from consumers.predict import load_pipeline

    pipeline = load_pipeline(ckpt)  # the same in Python, from a raw event
    assert pipeline.predict_one({"sqm": "70", "rooms": 3, "age": 10.0, "city": "Lyon",
                                 "sold": "2021-01-15", "price": "x"}) == pytest.approx(
        float(rows[0]["prediction"]), rel=1e-12)
    model_file = tmp_path / "m.json"
    model.save(model_file)
    assert main(["predict", str(path), "--checkpoint", str(model_file), "--output",
                 str(out), "-q"]) == 0
    assert len(list(csv.DictReader(out.open()))) == 200
    junk = tmp_path / "junk.jsonl"
    junk.write_text("[1]\n")
    assert main(["predict", str(junk), "--checkpoint", str(ckpt), "--output", str(out)]) == 5


def test_predict_says_when_rows_hold_no_feature_the_model_learned(tmp_path, capsys, caplog):
    import csv

    path, ckpt = house_csv(tmp_path / "h.csv", n=200), tmp_path / "c.json"
    assert main(["replay", str(path), "--target", "price", "--timestamp", "sold", "--checkpoint",
                 str(ckpt), "-q"]) == 0
    other, out = tmp_path / "other.csv", tmp_path / "scored.csv"
    other.write_text("name,mpg\nford,18\nfiat,31\n")  # another file's columns
    assert main(["predict", str(other), "--checkpoint", str(ckpt), "--output", str(out)]) == 5
    assert "no row holds a feature the model learned" in caplog.text
    assert "the input's: 'name=ford', 'mpg', 'name=fiat'" in caplog.text
    assert len(list(csv.DictReader(out.open()))) == 2  # written all the same
    caplog.clear()
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("sqm,city\n70,Lyon\n,LYON\n")  # a city spelled otherwise, no sqm
    assert main(["predict", str(mixed), "--checkpoint", str(ckpt), "--output", str(out)]) == 0
    assert "1 of 2 rows hold no feature the model learned" in caplog.text
    assert "features the model never learned, which count 0: 'city=LYON'" in caplog.text


@pytest.mark.parametrize("name, text", [
    ("rows.csv", "id,a,y\n,1,2\nr2,2,3\n"),  # the header says it all, even an empty first cell
    ("rows.jsonl", '{"id": "r1", "a": 1, "y": 2}\n'),
])
def test_produce_refuses_a_key_field_that_is_not_a_field(tmp_path, capsys, name, text):
    path = tmp_path / name
    path.write_text(text)
    assert main(["produce", str(path), "--topic", "t", "--bootstrap-servers", "127.0.0.1:1",
                 "--key-field", "idd", "-q", "--set", "stream.broker_timeout=1"]) == 2
    assert "the key field 'idd' is not a field of the input; fields seen: 'id', 'a', 'y'; " \
           "did you mean 'id'?" in capsys.readouterr().err


def test_produce_refuses_parquet_clearly(tmp_path, capsys):
    path = tmp_path / "rows.parquet"
    path.write_bytes(b"PAR1")
    assert main(["produce", str(path), "--topic", "t", "--bootstrap-servers", "127.0.0.1:1",
                 "-q"]) == 2
    assert "Parquet is read by replay and predict only" in capsys.readouterr().err
