"""consumers.columnar.source: the columnar reader as the runner's source (online-lr replay)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import orjson
import pytest

pa = pytest.importorskip("pyarrow")
import pyarrow.parquet as pq  # noqa: E402
from row_source import RowSource  # noqa: E402
from test_columnar import MODEL, csv_text, jsonl_bytes, rows, write, write_parquet  # noqa: E402

from consumers.checkpoint import CheckpointStore, read_checkpoint  # noqa: E402
from consumers.cli import main  # noqa: E402
from consumers.columnar.source import ColumnarSource  # noqa: E402
from consumers.errors import CheckpointError  # noqa: E402
from consumers.runner import Checkpointing, Counters, Learned, Reading, Runner, Sinks  # noqa: E402
from online_lr import SGDRegressor  # noqa: E402
from online_lr.encoding import FeatureEncoder  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


class Collected:
    """Outputs and dead letters of a run, as ``(row, prediction or reason)``."""

    def __init__(self):
        self.lines: list[tuple[int, object]] = []

    def add_predictions(self, messages, predictions):
        self.lines += [(m.offset, float(p)) for m, p in zip(messages, predictions)]

    def add(self, items):
        self.lines += [(m.offset, str(r)) for m, r in items]

    def flush(self):
        pass

    def close(self):
        pass


def run(source, encoder, batch_size=500, store=None, max_messages=None, model=None):
    out = Collected()
    model = model or SGDRegressor(**MODEL)
    with Runner(Learned(model, encoder, Counters()), lambda _: source,
                reading=Reading(batch_size=batch_size, max_messages=max_messages),
                checkpointing=Checkpointing(store, None, None), sinks=Sinks(out, out)) as runner:
        runner.run()
    return model, sorted(out.lines, key=lambda line: line[0])


def with_bad_rows(n: int = 1500) -> str:
    """CSV rows: labelled, unlabelled, a string, an empty feature, a non-numeric target."""
    lines = csv_text(rows(n)).splitlines()
    lines[40] = "x," + lines[40].split(",", 1)[1]
    lines[41] = "," + lines[41].split(",", 1)[1]
    lines[200] = lines[200].rsplit(",", 1)[0] + ",abc"
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("batch_size, ignore", [(1, None), (97, None), (65536, None),
                                               (500, ["b"])])
def test_replay_through_the_columnar_source_equals_the_row_path(tmp_path, batch_size, ignore,
                                                                 assert_same_model):
    path = write(tmp_path / "log.csv", with_bad_rows())
    row_encoder = FeatureEncoder(target="y", ignore=ignore)
    col_encoder = FeatureEncoder(target="y", ignore=ignore)
    row_model, row_lines = run(RowSource(path), row_encoder, batch_size=300)
    bulk = []
    encode_numbers = col_encoder.encode_numbers
    col_encoder.encode_numbers = lambda *a: bulk.append(encode_numbers(*a)) or bulk[-1]
    col_model, col_lines = run(ColumnarSource(path, col_encoder, block_bytes=8192), col_encoder,
                               batch_size=batch_size)
    del col_encoder.encode_numbers
    assert sum(b is not None for b in bulk) >= 5  # most blocks in bulk, the others by row
    assert_same_model(row_model, col_model, tol=1e-9)
    assert col_encoder.to_dict() == row_encoder.to_dict()  # columns, counts
    assert [r for r, _ in col_lines] == list(range(1500))  # every row, once, in order
    assert [(r, v) for r, v in col_lines if isinstance(v, str)] == \
        [(r, v) for r, v in row_lines if isinstance(v, str)]
    np.testing.assert_allclose([v for _, v in col_lines if not isinstance(v, str)],
                               [v for _, v in row_lines if not isinstance(v, str)], rtol=1e-9)


@pytest.mark.parametrize("name", ["log.csv", "log.jsonl.gz", "log.parquet"])
def test_stop_mid_stretch_and_resume_equals_the_uninterrupted_run(tmp_path, name,
                                                                   assert_same_model):
    records = rows(3000)
    path = tmp_path / name
    if name.endswith(".parquet"):
        write_parquet(path, records, row_group_size=700)
    else:
        write(path, jsonl_bytes(records) if ".jsonl" in name else csv_text(records))
    whole_encoder = FeatureEncoder(target="y")
    whole, _ = run(ColumnarSource(path, whole_encoder, block_bytes=8192), whole_encoder)
    store = CheckpointStore(tmp_path / "c.json").open()
    encoder = FeatureEncoder(target="y")
    model, first = run(ColumnarSource(path, encoder, block_bytes=8192), encoder, batch_size=333,
                       store=store, max_messages=1234)
    saved = read_checkpoint(tmp_path / "c.json")
    assert saved.source["position"]["row"] + saved.source["skip"] == 1234
    encoder = FeatureEncoder.from_dict(saved.schema)
    model, rest = run(ColumnarSource(path, encoder, start=saved.source, block_bytes=8192),
                      encoder, model=model)
    store.close()
    assert [r for r, _ in first + rest] == list(range(3000))
    assert_same_model(whole, model, tol=1e-12)
    assert encoder.to_dict() == whole_encoder.to_dict()


def test_a_checkpoint_of_the_row_replay_is_refused_clearly(tmp_path):
    path = write(tmp_path / "log.csv", csv_text(rows(10)))
    with pytest.raises(CheckpointError, match="older replay.*--fresh"):
        ColumnarSource(path, FeatureEncoder(target="y"), start={"kind": "file", "position": 600})


def test_pacing_holds_rows_until_their_time(tmp_path):
    records = [{"t": float(t), "a": 1.0, "y": 2.0} for t in (0, 0, 10, 20, 19, 30)]
    path = write(tmp_path / "log.jsonl", jsonl_bytes(records))
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    with ColumnarSource(path, FeatureEncoder(target="y"), pace_field="t", speed=2.0,
                        clock=lambda: now[0], sleep=sleep) as source:
        got = []
        while (batch := source.poll(100, timeout=1.0)) is not None:
            got.append([m.offset for m in batch])
            source.advance(batch)
    # 10 s of log at speed 2 = 5 s: one row every 5 s (the one that goes back comes at once)
    assert got[0] == [0, 1] and [r for b in got for r in b] == list(range(6))
    assert sum(slept) == pytest.approx(15.0)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_replay_predictions_have_one_line_per_input_row(tmp_path, capsys, suffix):
    path = write(tmp_path / "log.csv", with_bad_rows(300))
    out = tmp_path / f"pred{suffix}"
    assert main(["replay", str(path), "--target", "y", "--predictions", str(out),
                 "--batch-size", "50", "-q"]) == 0
    if suffix == ".parquet":
        lines = pq.read_table(out).to_pylist()
    elif suffix == ".jsonl":
        lines = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    else:
        import csv

        lines = list(csv.DictReader(out.open()))
    assert [int(line["row"]) for line in lines] == list(range(300))
    reasons = {int(line["row"]): line["reason"] for line in lines if line["reason"]}
    assert list(reasons) == [199] and reasons[199].startswith("non_numeric_target: 'y'")
    assert all(line["prediction"] not in (None, "") for line in lines
               if int(line["row"]) not in reasons)


def test_replay_reads_parquet_hive_partitions_and_stdin(tmp_path, capsys, assert_same_model):
    records = rows(900)
    logs = tmp_path / "logs"
    for k in range(3):
        (logs / f"date=2026-11-0{k + 1}").mkdir(parents=True)
        write_parquet(logs / f"date=2026-11-0{k + 1}" / "part-0.parquet",
                      records[300 * k:300 * (k + 1)])
    csv_path = write(tmp_path / "all.csv", csv_text(records))
    ckpts = [tmp_path / f"{k}.json" for k in range(3)]
    assert main(["replay", str(logs / "date=2026-11-*"), "--target", "y", "--checkpoint",
                 str(ckpts[0]), "-q"]) == 0
    assert main(["replay", str(csv_path), "--target", "y", "--checkpoint", str(ckpts[1]),
                 "-q"]) == 0
    done = subprocess.run(
        [sys.executable, "-m", "consumers", "replay", "-", "--target", "y", "--checkpoint",
         str(ckpts[2]), "-q"], input=csv_path.read_bytes(), cwd=REPO, capture_output=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    models = [SGDRegressor.from_dict(read_checkpoint(c).model) for c in ckpts]
    assert models[0].n_updates == sum(1 for r in records if "y" in r)
    for m in models[1:]:
        assert_same_model(models[0], m, tol=1e-9)


@pytest.mark.parametrize("batch_size", [1, 2, 100])
def test_a_csv_row_with_the_wrong_number_of_cells_is_refused_in_any_slice(tmp_path, batch_size):
    path = write(tmp_path / "log.csv", "a,y\n1,2\n3,4,5\n6,7\n")
    encoder = FeatureEncoder(target="y")
    model, lines = run(ColumnarSource(path, encoder), encoder, batch_size=batch_size)
    assert [r for r, _ in lines] == [0, 1, 2]
    assert lines[2][1].startswith("malformed_row: 3 cells, the header has 2")
    assert model.n_updates == 2


def test_raw_events_in_every_format_encode_and_learn_as_the_row_path(tmp_path, assert_same_model):
    """Strings, a nested object, missing fields: JSON Lines (the Kafka path), CSV and Parquet
    through the columnar source give the row path's model and encoder."""
    rng = np.random.default_rng(5)
    events = []
    for i in range(600):
        event = {"a": float(rng.normal()), "city": ["lyon", "paris", "nice"][i % 3],
                 "y": float(rng.normal())}
        if i % 5 == 0:
            del event["a"]  # missing
        events.append(event)
    jsonl = write(tmp_path / "e.jsonl", jsonl_bytes(
        [{**e, "user": {"age": i % 40}} for i, e in enumerate(events)]))
    flat = [{"a": e.get("a"), "city": e["city"], "y": e["y"]} for e in events]
    csv_path = tmp_path / "e.csv"
    csv_path.write_text("a,city,y\n" + "".join(
        f"{'' if r['a'] is None else repr(r['a'])},{r['city']},{r['y']!r}\n" for r in flat))
    parquet = tmp_path / "e.parquet"
    pq.write_table(pa.table({k: [r[k] for r in flat] for k in ("a", "city", "y")}), parquet,
                   row_group_size=128)
    flat_jsonl = write(tmp_path / "flat.jsonl", jsonl_bytes(
        [{k: v for k, v in r.items() if v is not None} for r in flat]))
    for path, reference in ((jsonl, jsonl), (csv_path, csv_path), (parquet, flat_jsonl)):
        row_encoder, col_encoder = FeatureEncoder(target="y"), FeatureEncoder(target="y")
        row_model, _ = run(RowSource(reference), row_encoder, batch_size=100)
        col_model, _ = run(ColumnarSource(path, col_encoder, block_bytes=4096), col_encoder,
                           batch_size=250)
        assert "city=paris" in col_encoder.feature_names
        assert_same_model(row_model, col_model, tol=1e-9)
        assert col_encoder.to_dict() == row_encoder.to_dict(), path.name
