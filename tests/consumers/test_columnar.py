"""consumers.columnar: CSV, JSON Lines, Parquet through Arrow; order, dialects, resume, writers."""

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
    ColumnarReader,
    Position,
    expand,
    open_writer,
)
from consumers.columnar.source import ColumnarSource  # noqa: E402
from row_source import RowSource  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
FEATURES = ("a", "b", "c")
MODEL = {"learning_rate": 0.05, "intercept_lr": 0.05}


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


def read(source, **kw) -> list:
    with ColumnarReader(source, **kw) as reader:
        return list(reader)


def values(batches, name: str) -> list:
    """Column ``name`` of every record of ``batches`` as read (numbers as floats, null None)."""
    out = []
    for b in batches:
        raw = b.raw
        if raw.batch is not None:
            column = raw.batch.column(name).to_pylist() if name in raw.batch.schema.names \
                else [None] * raw.batch.num_rows
        else:
            column = [orjson.loads(line).get(name) for line in raw.lines]
        out += [None if v is None or v != v else float(v) for v in column]
    return out


def _encoder():
    """A fresh encoder of target ``y``."""
    from online_lr.encoding import FeatureEncoder

    return FeatureEncoder(target="y")


def learn(source, encoder):
    """The model a run of ``source`` learns with ``encoder`` (the source's, if it has one)."""
    from consumers.runner import Checkpointing, Counters, Learned, Reading, Runner
    from online_lr import SGDRegressor

    model = SGDRegressor(**MODEL)
    with Runner(Learned(model, encoder, Counters()), lambda _: source,
                reading=Reading(batch_size=300), checkpointing=Checkpointing(None, None, None)
                ) as runner:
        runner.run()
    return model, encoder


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


def test_each_format_reads_the_same_rows(same_rows):
    records = rows()
    for path in same_rows:
        batches = read(path, block_bytes=4096, batch_rows=64)
        assert len(batches) > 1, path
        for name in (*FEATURES, "y"):
            assert values(batches, name) == [r.get(name) for r in records], (path, name)
        assert all(not b.raw.malformed for b in batches)
        assert batches[-1].end.row == sum(b.records for b in batches) == len(records)


def test_the_same_rows_learn_the_same_model_in_every_format(same_rows, assert_same_model):
    models = []
    for path in same_rows:
        encoder = _encoder()
        models.append(learn(ColumnarSource(path, encoder, block_bytes=3000), encoder)[0])
    assert models[0].n_updates == sum(1 for r in rows() if "y" in r)
    for m in models[1:]:
        assert_same_model(models[0], m, tol=1e-9)


def test_typed_parquet_columns_learn_as_the_csv_of_them(tmp_path, assert_same_model):
    """Decimals, durations, dates and timestamps, which JSON has no value of: read as a CSV
    holds them (numbers, ISO 8601 text), not refused row after row."""
    import datetime
    import decimal

    from online_lr.encoding import FeatureEncoder

    n = 60
    sold = [datetime.datetime(2024, 3, 1, 10) + datetime.timedelta(hours=7 * i)
            for i in range(n)]
    table = pa.table({
        "sqm": pa.array([decimal.Decimal(f"{40 + i % 17}.25") for i in range(n)],
                        pa.decimal128(6, 2)),
        "day": pa.array([t.date() for t in sold], pa.date32()),
        "ts": pa.array(sold, pa.timestamp("ns", "UTC")),
        "wait": pa.array([datetime.timedelta(milliseconds=250 * i) for i in range(n)],
                         pa.duration("ms")),
        "y": pa.array([3.0 * (40 + i % 17) + 1.0 for i in range(n)]),
    })
    pq.write_table(table, tmp_path / "typed.parquet")
    text = "sqm,day,ts,wait,y\n" + "".join(
        f"{40 + i % 17}.25,{t.date()},{t.isoformat()}.000000Z,{0.25 * i},"
        f"{3.0 * (40 + i % 17) + 1.0}\n" for i, t in enumerate(sold))
    write(tmp_path / "typed.csv", text)
    models = []
    for name in ("typed.parquet", "typed.csv"):
        encoder = FeatureEncoder(target="y", timestamp="ts")
        model, _ = learn(ColumnarSource(tmp_path / name, encoder), encoder)
        assert model.n_updates == n, name
        assert {"sqm", "wait", "day=2024-03-01"} <= set(model.weights), name
        models.append(model)
    assert_same_model(models[0], models[1], tol=1e-12)


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
        assert values(read(source), "a")[:30] == expected, source
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
    assert values(read([first, second, first]), "a") == [0, 1, 2, 3, 4, 5]  # each file once


def test_empty_files_have_no_rows(tmp_path):
    write(tmp_path / "a.csv", "")
    write(tmp_path / "b.jsonl.gz", "")
    write(tmp_path / "c.csv", "a,y\n")
    write(tmp_path / "d.csv", csv_text(marked(0, 2)))
    batches = [b for b in read(tmp_path) if b.records]
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
    assert batches[0].raw.batch.schema.names == [*FEATURES, "y"]
    for name in FEATURES:
        assert values(batches, name) == [r[name] for r in records]


def test_a_decimal_comma_is_read_as_a_point_when_the_delimiter_is_not_a_comma(tmp_path):
    batches = read(write(tmp_path / "log.csv", "a;b;y\n3,5;x;1\n"))
    assert batches[0].raw.batch.to_pylist() == [{"a": "3.5", "b": "x", "y": "1"}]


def test_a_row_not_in_utf8_is_set_apart_and_the_others_read(tmp_path):
    batches = read(write(tmp_path / "log.csv", b"city,y\nLyon,1\nBesan\xe7on,2\nNice,3\n"))
    assert [r for b in batches for r in b.raw.batch.to_pylist()] == \
        [{"city": "Lyon", "y": "1"}, {"city": "Nice", "y": "3"}]
    assert batches[0].raw.malformed == [
        "not UTF-8 (a Latin-1 or Windows-1252 file? convert it to UTF-8): 'city' is "
        "b'Besan\\xe7on'"]
    assert batches[-1].end.row == 3


@pytest.mark.parametrize("name, data", [
    ("log.csv.gz", gzip.compress(b"a,y\n" + b"".join(b"%d,%d\n" % (i, i * i)
                                                       for i in range(5000)))[:9000]),  # cut
    ("log.parquet", b"PAR1 not really"),
    ("log.csv", b"a\xff,y\n1,2\n"),  # a header in another encoding
])
def test_an_input_that_cannot_be_read_is_named_not_a_traceback(tmp_path, name, data):
    from consumers.columnar.source import input_fields
    from consumers.errors import ConfigError

    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ConfigError, match=f"cannot read '.*{name}'.*(corrupt|not UTF-8)"):
        read(path)
    if not name.endswith(".gz"):
        with pytest.raises(ConfigError, match=f"cannot read '.*{name}'"):
            input_fields(path)


def test_a_header_naming_a_column_twice_is_refused(tmp_path):
    """As a dict, a row would keep one of the two columns: the other would be lost unsaid.
    Unnamed columns (Excel's trailing delimiter) are no features, whatever their number."""
    from consumers.errors import ConfigError

    with pytest.raises(ConfigError, match="names 'a' more than once: rename the columns"):
        read(write(tmp_path / "log.csv", "a,b,a,y\n1,2,3,4\n"))
    batches = read(write(tmp_path / "blank.csv", "a,,y,\n1,,2,\n"))
    assert batches[-1].end.row == 1


def test_quoted_cells_may_hold_newlines_and_delimiters(tmp_path):
    text = 'name,a,b,c,y\n"two\nlines, here",1,2,3,4\n"x ""q""",5,6,7,8\n'
    batches = read(write(tmp_path / "log.csv", text), block_bytes=8)
    assert values(batches, "a") == [1, 5] and values(batches, "y") == [4, 8]
    assert [v for b in batches for v in b.raw.batch.column("name").to_pylist()] == \
        ["two\nlines, here", 'x "q"']
    assert batches[-1].end.row == 2


def test_csv_rows_with_the_wrong_number_of_cells_are_set_apart(tmp_path):
    batches = read(write(tmp_path / "log.csv", "a,b,y\n1,2,3\n4,5\n6,7,8,9\n1,1,1\n"))
    assert values(batches, "a") == [1, 1]
    malformed = [m for b in batches for m in b.raw.malformed]
    assert len(malformed) == 2 and "2 cells, the header has 3" in malformed[0]
    assert batches[-1].end.row == 4


def test_jsonl_blocks_stop_going_through_arrow_after_the_first_one_not_of_numbers(tmp_path):
    numbers = [{"a": float(i), "y": 1.0} for i in range(40)]
    events = [{"a": float(i), "city": "paris", "ts": "2026-01-01T00:00:00Z"} for i in range(40)]
    path = write(tmp_path / "log.jsonl", jsonl_bytes(numbers + events + numbers))
    batches = read(path, block_bytes=200, extra_columns=("ts",))
    arrow = [b.raw.batch is not None for b in batches]
    first_text = next(i for i, b in enumerate(batches) if b"city" in b.raw.lines[-1])
    assert arrow == [True] * first_text + [False] * (len(batches) - first_text)
    assert values(batches, "a") == [r["a"] for r in numbers + events + numbers]
    # the extra column of a text block comes from the lines as written, not as Arrow types it
    times = [t for b in batches[first_text:] for t in b.extra.column(0).to_pylist()]
    assert "2026-01-01T00:00:00Z" in times


def test_jsonl_blocks_whose_first_line_holds_text_or_objects_skip_arrow(tmp_path, monkeypatch):
    from consumers.columnar import reader

    parsed = []
    arrow_table = reader._jsonl_table
    monkeypatch.setattr(reader, "_jsonl_table",
                        lambda block, n: parsed.append(n) or arrow_table(block, n))
    events = [{"a": float(i), "user": {"age": i}, "city": "paris"} for i in range(40)]
    batches = read(write(tmp_path / "log.jsonl", jsonl_bytes(events)), block_bytes=200)
    assert parsed == [] and all(b.raw.batch is None for b in batches)
    assert values(batches, "a") == [e["a"] for e in events]


def test_jsonl_lines_over_the_size_limit_are_refused(tmp_path):
    path = write(tmp_path / "log.jsonl", jsonl_bytes(marked(0, 3)) + b'{"a": 1, "pad": "'
                 + b"x" * 200 + b'"}\n')
    with ColumnarSource(path, _encoder(), max_message_bytes=100) as source:
        batch = source.poll(10)
    assert [(i, r.reason) for i, r in batch.decode(source.encoder, 100).bad] == [(3, "oversize")]


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
    batches = read(path, block_bytes=2000, batch_rows=45)
    a_all, y_all = values(batches, "a"), values(batches, "y")
    assert len(batches) > 5
    for b in batches[:-1]:
        saved = Position.from_dict(b.end.to_dict())
        rest = read(path, start=saved, block_bytes=3000, batch_rows=60)
        assert rest[0].start == saved
        assert values(rest, "a") == a_all[b.end.row:]
        assert values(rest, "y") == y_all[b.end.row:]
        assert rest[-1].end == batches[-1].end


def test_resuming_does_not_read_the_rows_before(tmp_path):
    """The bytes before the position are garbage: a resumed replay never looks at them."""
    records = rows(100)
    text = csv_text(records)
    path = write(tmp_path / "log.csv", text)
    batches = read(path, block_bytes=1000)
    at = batches[1].end
    header_end = text.index("\n") + 1
    garbage = text[:header_end] + "".join("#" if c != "\n" else c
                                          for c in text[header_end:at.byte]) + text[at.byte:]
    path.write_text(garbage)
    rest = read(path, start=at)
    assert values(rest, "a") == [r["a"] for r in records[at.row:]]
    assert not any(b.raw.malformed for b in rest) and rest[-1].end.row == 100


def test_resuming_across_files_and_a_changed_list(tmp_path):
    a = write(tmp_path / "a.csv", csv_text(marked(0, 5)))
    b = write(tmp_path / "b.jsonl", jsonl_bytes(marked(5, 5)))
    batches = read([a, b])
    assert [x.end.path for x in batches] == [str(a), str(b)]
    mid = Position(1, str(b), 2, len(jsonl_bytes(marked(5, 2))))
    assert values(read([a, b], start=mid), "a") == [7, 8, 9]
    assert values(read([b], start=mid), "a") == [7, 8, 9]  # found by path when the list changed
    with pytest.raises(ValueError, match="not among the inputs"):
        ColumnarReader([a], start=mid)


# -- stdin -------------------------------------------------------------------------------------

_READ_STDIN = """
import sys
from consumers.columnar import ColumnarReader
batches = list(ColumnarReader("-"))
print(sum(b.records for b in batches), batches[0].raw.batch.schema.names, batches[-1].end.row,
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
    assert out.stdout.decode().split() == ["200", "['a',", "'b',", "'c',", "'y']", "200",
                                           str(kind.startswith("csv")), kind]


def test_stdin_stream_can_be_injected():
    batches = read("-", stdin=io.BytesIO(b"a\tb\ty\n1\t2\t3\n"))
    assert batches[0].raw.batch.to_pylist() == [{"a": 1.0, "b": 2.0, "y": 3.0}]


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
    batches = read(csv_path, extra_columns=("id", "ts", "nope"), block_bytes=block_bytes)
    extra = pa.Table.from_batches([b.extra for b in batches])
    assert sum(b.records for b in batches) == extra.num_rows == 4
    ids = [v for b in batches for v in b.extra.column("id").to_pylist()]
    assert [v for v in ids if v is not None] == ["r0", "r1", "r3"]
    assert ids.count(None) == 1  # the malformed row's
    assert extra.column("ts").type == pa.string() and extra.column("nope").null_count == 4

    records = [{"id": 7, "a": 1.0, "y": 2.0}, {"id": 8, "a": 2.0}]
    for path in (write(tmp_path / "fast.jsonl", jsonl_bytes(records)),
                 write(tmp_path / "slow.jsonl", jsonl_bytes(records) + b"not json\n"),
                 write_parquet(tmp_path / "t.parquet", records)):
        batches = read(path, extra_columns=("id",))
        ids = [v for b in batches for v in b.extra.column("id").to_pylist()]
        assert ids[:2] == [7, 8] and len(ids) == sum(b.records for b in batches), path


# -- fuzz: the columnar source equals the row path ---------------------------------------------

_CELLS = ["1", "-2.5", "3e2", "", "nan", "inf", "-Infinity", "x", " 4 ", "1_0", "1e400", "0x1",
          "+.5", "NULL"]
_JSON_VALUES = ["1", "-2.5", "3e2", "null", "true", '"7"', "1e400", "NaN", "[1]", "{}"]


@pytest.mark.parametrize("seed", range(4))
def test_fuzzed_csv_matches_the_row_path(tmp_path, seed, assert_same_model):
    rng = np.random.default_rng(seed)
    clean = rng.random() < 0.5  # mostly numbers: blocks parsed straight to float64
    lines = ["k,a,b,y"]
    for i in range(300):
        cells = [repr(float(v)) if clean and rng.random() < 0.97 else str(rng.choice(_CELLS))
                 for v in rng.normal(size=3)]
        lines.append(",".join([str(i), *cells]))
    path = write(tmp_path / "fuzz.csv", "\n".join(lines) + "\n")
    from online_lr.encoding import FeatureEncoder

    row_model, row_encoder = learn(RowSource(path), FeatureEncoder(target="y", ignore=["k"]))
    encoder = FeatureEncoder(target="y", ignore=["k"])
    col_model, _ = learn(ColumnarSource(path, encoder, block_bytes=int(rng.integers(20, 3000))),
                         encoder)
    assert_same_model(row_model, col_model, tol=1e-9)
    assert encoder.to_dict() == row_encoder.to_dict()


@pytest.mark.parametrize("seed", range(4))
def test_fuzzed_jsonl_matches_the_kafka_path(tmp_path, seed, assert_same_model):
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(300):
        fields = [f'"{k}": {rng.choice(_JSON_VALUES) if rng.random() < 0.1 else rng.normal()}'
                  for k in ("a", "b", "y") if rng.random() < 0.97]
        lines.append(("{" + ", ".join(fields) + "}").encode())
    path = write(tmp_path / "fuzz.jsonl", b"\n".join(lines) + b"\n")
    row_model, row_encoder = learn(RowSource(path), _encoder())
    encoder = _encoder()
    col_model, _ = learn(ColumnarSource(path, encoder, block_bytes=int(rng.integers(50, 5000))),
                         encoder)
    assert_same_model(row_model, col_model, tol=1e-9)
    assert encoder.to_dict() == row_encoder.to_dict()
