"""consumers.columnar: CSV, JSON Lines, Parquet through Arrow; order, refusals, resume, writers."""

from __future__ import annotations

import gzip
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import orjson
import pytest

pa = pytest.importorskip("pyarrow")
import pyarrow.parquet as pq  # noqa: E402

from consumers.columnar import (  # noqa: E402
    MALFORMED_ROW,
    ColumnarReader,
    Position,
    expand,
    open_writer,
)
from consumers.columnar.numeric import Schema, decode_batch  # noqa: E402
from consumers.file_source import FileSource  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
FEATURES = ("a", "b", "c")
MODEL = {"learning_rate": 0.05, "intercept_lr": 0.05}


def numeric_cells(row: dict) -> dict:
    """A CSV row of the row path (string cells) as the columnar reader's numeric rules see it."""
    from consumers.columnar.numeric import _cell

    return {k: _cell(v) for k, v in row.items()}


def rows(n: int = 500, seed: int = 0, unlabelled_every: int = 7) -> list[dict]:
    """``n`` rows of numbers; every ``unlabelled_every``-th has no target."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(FEATURES)))
    y = X @ np.array([1.0, -2.0, 0.5]) + 1.0 + 0.1 * rng.normal(size=n)
    out = []
    for i in range(n):
        row = {f: float(X[i, j]) for j, f in enumerate(FEATURES)}
        if i % unlabelled_every:
            row["y"] = float(y[i])
        out.append(row)
    return out


def csv_text(records: list[dict], delimiter: str = ",", header=("a", "b", "c", "y")) -> str:
    lines = [delimiter.join(header)]
    lines += [delimiter.join(repr(r[k]) if k in r else "" for k in header) for r in records]
    return "\n".join(lines) + "\n"


def jsonl_bytes(records: list[dict]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


def write_parquet(path: Path, records: list[dict], row_group_size: int = 100) -> Path:
    names = dict.fromkeys(k for r in records for k in r)
    table = pa.table({k: pa.array([r.get(k) for r in records],
                                  pa.int64() if k == "id" else pa.float64()) for k in names})
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


def write(path: Path, data: str | bytes) -> Path:
    raw = data.encode() if isinstance(data, str) else data
    path.write_bytes(gzip.compress(raw) if path.name.endswith(".gz") else raw)
    return path


def read(source, schema: Schema | None = None, **kw) -> list:
    with ColumnarReader(source, schema or Schema(target="y"), **kw) as reader:
        return list(reader)


def stacked(batches) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All valid rows of ``batches``: X, y and learn, concatenated."""
    ds = [b.decoded for b in batches if len(b.decoded)]
    return (np.vstack([d.X for d in ds]), np.concatenate([d.y for d in ds]),
            np.concatenate([d.learn for d in ds]))


def refusals(batches) -> list[tuple[int, str]]:
    """(record index in its file, "code: detail") of every refused row."""
    return [(b.start.row + i, str(r)) for b in batches for i, r in b.decoded.bad]


def learn(batches):
    from online_lr import SGDRegressor

    model = SGDRegressor(**MODEL)
    for b in batches:
        d = b.decoded
        if len(d):
            model.learn_sequential(d.X, d.y, list(d.columns), d.learn)
    return model


# -- formats and equality ----------------------------------------------------------------------


@pytest.fixture
def same_rows(tmp_path):
    """The same 500 rows as CSV, CSV.gz, JSON Lines, JSON Lines.gz and Parquet."""
    records = rows()
    return [
        write(tmp_path / "log.csv", csv_text(records)),
        write(tmp_path / "log.csv.gz", csv_text(records)),
        write(tmp_path / "log.jsonl", jsonl_bytes(records)),
        write(tmp_path / "log.ndjson.gz", jsonl_bytes(records)),
        write_parquet(tmp_path / "log.parquet", records),
    ]


def test_each_format_decodes_the_same_rows(same_rows):
    records = rows()
    expected_X = np.array([[r[f] for f in FEATURES] for r in records])
    for path in same_rows:
        batches = read(path, block_bytes=4096, batch_rows=64)
        X, y, learned = stacked(batches)
        assert len(batches) > 1, path
        assert batches[0].decoded.columns == FEATURES
        np.testing.assert_allclose(X, expected_X, rtol=1e-15)
        assert X.dtype == np.float64 and X.flags.c_contiguous
        assert learned.tolist() == ["y" in r for r in records], path
        np.testing.assert_allclose(y[learned], [r["y"] for r in records if "y" in r], rtol=1e-15)
        assert refusals(batches) == []
        assert batches[-1].end.row == len(records)


def test_the_same_rows_learn_the_same_model_in_every_format(same_rows, assert_same_model):
    models = [learn(read(path, block_bytes=3000, batch_rows=50)) for path in same_rows]
    assert models[0].n_updates == sum(1 for r in rows() if "y" in r)
    for m in models[1:]:
        assert_same_model(models[0], m, tol=1e-9)


def test_csv_replay_equals_the_row_path(tmp_path, assert_same_model):
    from consumers.runner import Runner
    from online_lr import SGDRegressor
    from online_lr.encoding import FeatureEncoder

    path = write(tmp_path / "log.csv", csv_text(rows(2000)))
    model = SGDRegressor(**MODEL)
    with FileSource(path) as source:
        Runner(model, FeatureEncoder(target="y"), source, batch_size=300, every_messages=None,
               every_seconds=None).run()
    assert_same_model(model, learn(read(path, block_bytes=5000)), tol=1e-9)


# -- which files, in which order --------------------------------------------------------------


def marked(first: int, n: int) -> list[dict]:
    """Rows whose feature ``a`` counts from ``first``: shows the order rows were read in."""
    return [{"a": float(first + k), "b": 1.0, "c": 2.0, "y": 3.0} for k in range(n)]


def test_hive_partitions_are_read_in_path_order(tmp_path):
    logs = tmp_path / "logs"
    parts = {"date=2026-11-10": 20, "date=2026-11-02": 10, "date=2026-11-01": 0}
    for part, first in parts.items():
        (logs / part).mkdir(parents=True)
        write_parquet(logs / part / "part-1.parquet", marked(first + 5, 5))
        write(logs / part / "part-0.csv.gz", csv_text(marked(first, 5)))
        (logs / part / "_SUCCESS").write_text("")
    (logs / "date=2026-12-01").mkdir()
    write(logs / "date=2026-12-01" / "part-0.jsonl", jsonl_bytes(marked(30, 5)))
    expected = list(range(30))
    for source in (str(logs / "date=2026-11-*") + "/", str(logs / "date=2026-11-*"), str(logs)):
        X, _, _ = stacked(read(source, Schema(target="y", features=FEATURES)))
        assert X[:, 0].tolist()[:30] == expected, source
    whole = expand(str(logs))
    assert [Path(p).relative_to(logs).as_posix() for p in whole] == [
        "date=2026-11-01/part-0.csv.gz", "date=2026-11-01/part-1.parquet",
        "date=2026-11-02/part-0.csv.gz", "date=2026-11-02/part-1.parquet",
        "date=2026-11-10/part-0.csv.gz", "date=2026-11-10/part-1.parquet",
        "date=2026-12-01/part-0.jsonl",
    ]


def test_a_list_of_sources_is_read_in_the_order_given(tmp_path):
    first = write(tmp_path / "b.csv", csv_text(marked(0, 3)))
    second = write(tmp_path / "a.jsonl", jsonl_bytes(marked(3, 3)))
    X, _, _ = stacked(read([first, second, first]))
    assert X[:, 0].tolist() == [0, 1, 2, 3, 4, 5]


def test_empty_files_have_no_rows(tmp_path):
    write(tmp_path / "a.csv", "")
    write(tmp_path / "b.jsonl.gz", "")
    write(tmp_path / "c.csv", "a,y\n")
    write(tmp_path / "d.csv", csv_text(marked(0, 2)))
    batches = read(tmp_path)
    assert [b.end.path for b in batches] == [str(tmp_path / "d.csv")]
    assert batches[0].records == 2


def test_missing_and_unknown_inputs_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        expand(str(tmp_path / "nope.csv"))
    with pytest.raises(FileNotFoundError, match=r"\*\.csv"):
        expand(str(tmp_path / "*.csv"))
    (tmp_path / "x.txt").write_text("a\n")
    with pytest.raises(ValueError, match="x.txt"):
        expand(str(tmp_path / "x.txt"))


# -- CSV dialects ------------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_csv_delimiter_is_sniffed_and_a_bom_dropped(tmp_path, delimiter, bom):
    records = rows(50)
    path = write(tmp_path / "log.csv", bom + csv_text(records, delimiter).encode())
    batches = read(path)
    assert batches[0].decoded.columns == FEATURES
    X, _, _ = stacked(batches)
    np.testing.assert_array_equal(X, [[r[f] for f in FEATURES] for r in records])


def test_quoted_cells_may_hold_newlines_and_delimiters(tmp_path):
    text = 'name,a,b,c,y\n"two\nlines, here",1,2,3,4\n"x ""q""",5,6,7,8\n'
    batches = read(write(tmp_path / "log.csv", text), block_bytes=8)
    X, y, _ = stacked(batches)
    assert X.tolist() == [[1, 2, 3], [5, 6, 7]] and y.tolist() == [4, 8]
    assert batches[-1].end.row == 2


# -- refusals: the row path's reasons ----------------------------------------------------------

MESSY_CSV = (
    "id,a,b,c,y,note\n"
    "1,,,,4,no feature: the schema is not fixed yet\n"
    "2,1,2,3,nan,nonfinite target\n"
    "3,1,2,3,4,fixes the schema\n"
    "4,,2,3,4,missing a\n"
    "5,1,two,3,4,non-numeric b\n"
    "6,1,2,inf,4,nonfinite c\n"
    "7,1,2,3,,no target: predict only\n"
    "8,1,2,3,abc,non-numeric target\n"
    "9,1, 2 ,-Infinity,5,float() accepts the spaces\n"
    "10,1e3,2_0,3,4,underscores too\n"
    "\n"
    "11,1,2,3,4,after a blank line\n"
)


@pytest.mark.parametrize("block_bytes", [1 << 20, 60])
def test_csv_refusals_match_the_row_path(tmp_path, block_bytes):
    path = write(tmp_path / "log.csv", MESSY_CSV)
    schema = Schema(target="y", ignore=("id",))
    batches = read(path, schema, block_bytes=block_bytes)
    with FileSource(path) as source:
        values = [numeric_cells(m.value) for m in source.poll(100)]
    reference = decode_batch(values, Schema(target="y", ignore=("id",)))
    assert schema.features == reference.columns == ("a", "b", "c")
    assert refusals(batches) == [(i, str(r)) for i, r in reference.bad]
    X, y, learned = stacked(batches)
    np.testing.assert_array_equal(X, reference.X)
    np.testing.assert_array_equal(y, reference.y)
    np.testing.assert_array_equal(learned, reference.learn)
    assert batches[-1].end.row == len(values) == 11


def test_csv_rows_with_the_wrong_number_of_cells_are_refused(tmp_path):
    batches = read(write(tmp_path / "log.csv", "a,b,y\n1,2,3\n4,5\n6,7,8,9\n1,1,1\n"))
    X, _, _ = stacked(batches)
    assert X.tolist() == [[1, 2], [1, 1]]
    bad = batches[0].decoded.bad
    assert [r.reason for _, r in bad] == [MALFORMED_ROW, MALFORMED_ROW]
    assert "2 cells, the header has 3" in bad[0][1].detail
    assert batches[-1].end.row == 4


MESSY_JSONL = (
    b'{"y": 1, "note": "no feature: the schema is not fixed yet"}\n'
    b'{"a": 1, "b": 2, "y": 3}\n'
    b'{"a": 1, "b": 2}\n'
    b'{"a": null, "b": 2, "y": 3}\n'
    b'{"b": 2, "y": 3}\n'
    b'{"a": true, "b": 2, "y": 3}\n'
    b'{"a": NaN, "b": 2, "y": 3}\n'
    b'{"a": 1, "b": 2, "y": "3"}\n'
    b"[1, 2]\n"
    b"not json\n"
    b"\n"
    b'{"a": 1, "b": 2, "y": null, "other": "ignored"}\n'
    b'{"a": 5, "b": 6, "y": 7}'
)


@pytest.mark.parametrize("block_bytes", [1 << 20, 40])
def test_jsonl_refusals_match_the_kafka_path(tmp_path, block_bytes):
    path = write(tmp_path / "log.jsonl", MESSY_JSONL)
    batches = read(path, block_bytes=block_bytes)
    lines = [s.strip() for s in MESSY_JSONL.split(b"\n") if s.strip()]
    reference = decode_batch(lines, Schema(target="y"))
    assert refusals(batches) == [(i, str(r)) for i, r in reference.bad]
    assert len(reference.bad) == 8
    X, y, learned = stacked(batches)
    np.testing.assert_array_equal(X, reference.X)
    np.testing.assert_array_equal(learned, reference.learn)
    assert batches[-1].end.row == len(lines)


def test_jsonl_lines_over_the_size_limit_are_refused(tmp_path):
    path = write(tmp_path / "log.jsonl", jsonl_bytes(marked(0, 3)) + b'{"a": 1, "pad": "'
                 + b"x" * 200 + b'"}\n')
    batches = read(path, Schema(target="y", features=FEATURES), max_message_bytes=100)
    assert [r.reason for _, r in batches[0].decoded.bad] == ["oversize"]


def test_parquet_types_nulls_and_refusals(tmp_path):
    table = pa.table({
        "a": pa.array([1, 2, None, 4, 5, 6], pa.int64()),
        "b": pa.array([0.5, float("nan"), 1.0, 1.0, 1.0, 1.0]),
        "flag": pa.array([True, False, True, True, True, True]),
        "s": pa.array(["u", "v", "w", "x", "y", "z"]),
        "y": pa.array([1.0, 2.0, 3.0, None, float("inf"), 6.0]),
    })
    pq.write_table(table, tmp_path / "t.parquet")
    schema = Schema(target="y")
    batches = read(tmp_path / "t.parquet", schema)
    assert schema.features == ("a", "b")  # bool and string columns are not features
    assert refusals(batches) == [
        (1, "nonfinite_feature: 'b' is nan"),
        (2, "missing_feature: 'a' is null"),
        (4, "nonfinite_target: 'y' is inf"),
    ]
    X, y, learned = stacked(batches)
    assert X.tolist() == [[1, 0.5], [4, 1], [6, 1]] and learned.tolist() == [True, False, True]
    assert refusals(read(tmp_path / "t.parquet", Schema(target="y", features=("flag",))))[0] == (
        0, "non_numeric_feature: 'flag' is bool")
    assert refusals(read(tmp_path / "t.parquet", Schema(target="y", features=("s",))))[0] == (
        0, "non_numeric_feature: 's' is string")


# -- resume by position ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["log.csv", "log.csv.gz", "log.jsonl", "log.jsonl.gz",
                                  "log.parquet"])
def test_resuming_at_any_batch_end_reads_exactly_the_rest(tmp_path, name):
    records = rows(400)
    if name.endswith(".parquet"):
        path = write_parquet(tmp_path / name, records, row_group_size=70)
    else:
        path = write(tmp_path / name, csv_text(records) if ".csv" in name else
                     jsonl_bytes(records))
    schema = Schema(target="y", features=FEATURES)
    batches = read(path, schema, block_bytes=2000, batch_rows=45)
    X_all, y_all, _ = stacked(batches)
    assert len(batches) > 5
    for b in batches[:-1]:
        saved = Position.from_dict(b.end.to_dict())
        rest = read(path, schema, start=saved, block_bytes=3000, batch_rows=60)
        assert rest[0].start == saved
        X, y, _ = stacked(rest)
        np.testing.assert_array_equal(X, X_all[b.end.row:])
        np.testing.assert_array_equal(y, y_all[b.end.row:])
        assert rest[-1].end == batches[-1].end


def test_resuming_does_not_decode_the_rows_before(tmp_path):
    """The bytes before the position are garbage: a resumed replay never looks at them."""
    text = csv_text(rows(100))
    path = write(tmp_path / "log.csv", text)
    batches = read(path, block_bytes=1000)
    at = batches[1].end
    header_end = text.index("\n") + 1
    garbage = text[:header_end] + "".join("#" if c != "\n" else c
                                          for c in text[header_end:at.byte]) + text[at.byte:]
    path.write_text(garbage)
    rest = read(path, Schema(target="y", features=FEATURES), start=at)
    assert refusals(rest) == [] and rest[-1].end.row == 100


def test_resuming_across_files_and_a_changed_list(tmp_path):
    a = write(tmp_path / "a.csv", csv_text(marked(0, 5)))
    b = write(tmp_path / "b.jsonl", jsonl_bytes(marked(5, 5)))
    batches = read([a, b])
    assert [x.end.path for x in batches] == [str(a), str(b)]
    mid = Position(1, str(b), 2, len(jsonl_bytes(marked(5, 2))))
    X, _, _ = stacked(read([a, b], start=mid))
    assert X[:, 0].tolist() == [7, 8, 9]
    X, _, _ = stacked(read([b], start=mid))  # found by path when the list changed
    assert X[:, 0].tolist() == [7, 8, 9]
    with pytest.raises(ValueError, match="not among the inputs"):
        ColumnarReader([a], Schema(), start=mid)


# -- stdin -------------------------------------------------------------------------------------

_READ_STDIN = """
import sys
from consumers.columnar import ColumnarReader
from consumers.columnar.numeric import Schema
batches = list(ColumnarReader("-", Schema(target="y")))
print(sum(len(b.decoded) for b in batches), batches[0].decoded.columns, batches[-1].end.row,
      "pyarrow.csv" in sys.modules, sys.argv[1])
"""


@pytest.mark.parametrize("kind", ["csv", "csv.gz", "jsonl", "parquet"])
def test_stdin(tmp_path, kind):
    records = rows(200)
    if kind == "parquet":
        data = write_parquet(tmp_path / "x.parquet", records).read_bytes()
    elif kind == "jsonl":
        data = jsonl_bytes(records)
    else:
        data = csv_text(records, ";").encode()
        data = gzip.compress(data) if kind.endswith(".gz") else data
    out = subprocess.run([sys.executable, "-c", _READ_STDIN, kind], input=data, cwd=REPO,
                         capture_output=True, check=True, env={"PYTHONPATH": str(REPO)})
    assert out.stdout.decode().split() == ["200", "('a',", "'b',", "'c')", "200",
                                           str(kind.startswith("csv")), kind]


def test_stdin_stream_can_be_injected():
    batches = read("-", stdin=io.BytesIO(b"a\tb\ty\n1\t2\t3\n"))
    assert batches[0].decoded.X.tolist() == [[1.0, 2.0]]


def test_importing_the_package_does_not_import_pyarrow():
    code = "import sys, consumers.columnar; print('pyarrow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         check=True, env={"PYTHONPATH": str(REPO)})
    assert out.stdout.strip() == b"False"


# -- writers -----------------------------------------------------------------------------------


def _read_back(path: Path) -> list[dict]:
    if path.name.endswith(".parquet"):
        return pq.read_table(path).to_pylist()
    raw = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
    if ".csv" in path.name:
        import pyarrow.csv as pacsv

        return pacsv.read_csv(io.BytesIO(raw)).to_pylist()
    return [orjson.loads(line) for line in raw.splitlines()]


@pytest.mark.parametrize("name", ["p.csv", "p.csv.gz", "p.jsonl", "p.ndjson.gz", "p.parquet"])
def test_writers_stream_batches_by_extension(tmp_path, name):
    path = tmp_path / name
    with open_writer(path) as out:
        out.write({"row": np.arange(3), "prediction": np.array([0.5, 1.5, 2.5])})
        out.write({"row": [3], "prediction": [3]})  # cast to the first batch's types
        assert out.rows == 4
    assert _read_back(path) == [{"row": i, "prediction": i + 0.5 if i < 3 else 3.0}
                                for i in range(4)]


def test_writer_refuses_other_columns_and_unknown_formats(tmp_path):
    with open_writer(tmp_path / "p.csv") as out:
        out.write({"row": [0]})
        with pytest.raises(ValueError, match="same columns"):
            out.write({"other": [1]})
    with pytest.raises(ValueError, match="p.parquet.gz"):
        open_writer(tmp_path / "p.parquet.gz")


# -- extra columns -----------------------------------------------------------------------------


@pytest.mark.parametrize("block_bytes", [1 << 20, 30])
def test_extra_columns_come_with_every_row_as_read(tmp_path, block_bytes):
    csv_path = write(tmp_path / "log.csv", "id,ts,a,y\nr0,5,1,2\nr1,6,x,3\nr2,7\nr3,8,4,\n")
    schema = Schema(target="y", features=("a",))
    batches = read(csv_path, schema, extra_columns=("id", "ts", "nope"),
                   block_bytes=block_bytes)
    extra = pa.Table.from_batches([b.extra for b in batches])
    assert sum(b.records for b in batches) == extra.num_rows == 4
    ids = [v for b in batches for v in b.extra.column("id").to_pylist()]
    assert [v for v in ids if v is not None] == ["r0", "r1", "r3"]
    assert ids.count(None) == 1  # the malformed row's
    valid = [b.extra.column("id")[int(i)].as_py() for b in batches for i in b.decoded.rows]
    assert valid == ["r0", "r3"]
    assert extra.column("ts").type == pa.string() and extra.column("nope").null_count == 4

    records = [{"id": 7, "a": 1.0, "y": 2.0}, {"id": 8, "a": 2.0}]
    for path in (write(tmp_path / "fast.jsonl", jsonl_bytes(records)),
                 write(tmp_path / "slow.jsonl", jsonl_bytes(records) + b"not json\n"),
                 write_parquet(tmp_path / "t.parquet", records)):
        batches = read(path, Schema(target="y", features=("a",)), extra_columns=("id",))
        ids = [v for b in batches for v in b.extra.column("id").to_pylist()]
        assert ids[:2] == [7, 8] and len(ids) == sum(b.records for b in batches), path


# -- fuzz: the columnar path equals the row path -----------------------------------------------

_CELLS = ["1", "-2.5", "3e2", "", "nan", "inf", "-Infinity", "x", " 4 ", "1_0", "1e400", "0x1",
          "+.5", "NULL"]
_JSON_VALUES = ["1", "-2.5", "3e2", "null", "true", '"7"', "1e400", "NaN", "[1]", "{}"]


@pytest.mark.parametrize("seed", range(6))
def test_fuzzed_csv_matches_the_row_path(tmp_path, seed):
    rng = np.random.default_rng(seed)
    clean = rng.random() < 0.5  # mostly numbers: blocks parsed straight to float64
    lines = ["k,a,b,y"]
    for i in range(300):
        cells = [repr(float(v)) if clean and rng.random() < 0.97 else str(rng.choice(_CELLS))
                 for v in rng.normal(size=3)]
        lines.append(",".join([str(i), *cells]))
    path = write(tmp_path / "fuzz.csv", "\n".join(lines) + "\n")
    schema = Schema(target="y", ignore=("k",))
    batches = read(path, schema, block_bytes=int(rng.integers(20, 3000)))
    with FileSource(path) as source:
        reference = decode_batch([numeric_cells(m.value) for m in source.poll(1000)],
                                 Schema(target="y", ignore=("k",)))
    assert schema.features == (reference.columns or None)
    assert refusals(batches) == [(i, str(r)) for i, r in reference.bad]
    if len(reference):
        X, y, learned = stacked(batches)
        np.testing.assert_array_equal(X, reference.X)
        np.testing.assert_array_equal(y, reference.y)
        np.testing.assert_array_equal(learned, reference.learn)


@pytest.mark.parametrize("seed", range(6))
def test_fuzzed_jsonl_matches_the_kafka_path(tmp_path, seed):
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(300):
        fields = [f'"{k}": {rng.choice(_JSON_VALUES) if rng.random() < 0.1 else rng.normal()}'
                  for k in ("a", "b", "y") if rng.random() < 0.97]
        lines.append(("{" + ", ".join(fields) + "}").encode())
    path = write(tmp_path / "fuzz.jsonl", b"\n".join(lines) + b"\n")
    schema = Schema(target="y")
    batches = read(path, schema, block_bytes=int(rng.integers(50, 5000)))
    reference = decode_batch(lines, Schema(target="y"))
    assert refusals(batches) == [(i, str(r)) for i, r in reference.bad]
    X, y, learned = stacked(batches)
    np.testing.assert_allclose(X, reference.X, rtol=1e-15)
    np.testing.assert_allclose(y, reference.y, rtol=1e-15)
    np.testing.assert_array_equal(learned, reference.learn)
