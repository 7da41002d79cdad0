"""consumers.runner: the prequential loop over a file read row by row, without any broker."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from row_source import RowSource

from consumers.checkpoint import CheckpointStore
from consumers.records import Reason
from consumers.runner import Checkpointing, Counters, Learned, Reading, Runner, Sinks
from consumers.wiring import restore
from consumers.config import FieldsSettings
from online_lr.encoding import FeatureEncoder
from online_lr import SGDRegressor
from online_lr.sgd import LearnOutcome

MODEL = {"update": "normalized", "learning_rate": 0.5, "intercept_lr": 0.5}


def make_rows(n: int = 300, seed: int = 7) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        a, b, c = (rng.normal(size=3) * (1.0, 100.0, 0.01)).tolist()
        row = {"id": f"r{i}", "a": a, "b": b, "c": c}
        if i % 10 != 3:  # every tenth row is prediction-only
            row["y"] = 2.0 * a - 0.03 * b + 50.0 * c + 1.0 + float(rng.normal()) * 0.1
        rows.append(row)
    return rows


def write_jsonl(path: Path, rows: list[dict], extra: dict[int, bytes] | None = None) -> Path:
    import orjson

    lines = [orjson.dumps(r) for r in rows]
    for at, raw in sorted((extra or {}).items()):  # ascending: ``at`` is the final line index
        lines.insert(at, raw)
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


class Collect:
    """In-memory outputs for pure tests (the Kafka ones use the real broker)."""

    def __init__(self):
        self.predictions: list[tuple[int, float]] = []
        self.dead: list[tuple[int, str]] = []
        self.flushes = 0

    def add_predictions(self, messages, predictions):
        self.predictions += [(m.offset, float(p)) for m, p in zip(messages, predictions)]

    def add(self, items):
        self.dead += [(m.offset, r.reason) for m, r in items]

    def flush(self):
        self.flushes += 1

    def close(self):
        pass


def run_file(path, *, batch_size=500, store=None, max_messages=None, model=None,
             outputs=None, every_messages=None, fields=None):
    checkpoint = store.load() if store is not None else None
    learned = restore(checkpoint, fields or FieldsSettings(ignore=("id",)), MODEL,
                      {"kind": "file", "name": Path(path).name})
    if model is not None:
        learned = learned._replace(model=model)
    start = checkpoint.source["position"] if checkpoint else 0
    with Runner(learned, lambda _: RowSource(path, start=start),
                reading=Reading(batch_size=batch_size, max_messages=max_messages),
                checkpointing=Checkpointing(store, every_messages, every_seconds=None),
                sinks=Sinks(outputs, outputs)) as runner:
        result = runner.run()
    return runner, result


def learn_one_loop(rows: list[dict]):
    model = SGDRegressor.from_config(MODEL)
    preds = []
    for r in rows:
        x = {k: r[k] for k in ("a", "b", "c")}
        preds.append(model.predict_one(x))
        if "y" in r:
            model.learn_one(x, r["y"])
    return model, preds


def assert_close(a, b, tol=1e-12, where="state"):
    """Nested JSON-like values equal, floats to a relative ``tol``."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for k in a:
            assert_close(a[k], b[k], tol, f"{where}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), where
        for i, (u, v) in enumerate(zip(a, b)):
            assert_close(u, v, tol, f"{where}[{i}]")
    elif isinstance(a, float):
        assert a == pytest.approx(b, rel=tol, abs=1e-300), where
    else:
        assert a == b, where


def test_replay_equals_a_learn_one_loop(tmp_path, assert_same_model):
    rows = make_rows()
    out = Collect()
    runner, result = run_file(write_jsonl(tmp_path / "d.jsonl", rows), batch_size=64, outputs=out)
    reference, preds = learn_one_loop(rows)
    assert_same_model(runner.model, reference)
    assert [o for o, _ in out.predictions] == list(range(len(rows)))
    np.testing.assert_allclose([p for _, p in out.predictions], preds, rtol=1e-9, atol=1e-9)
    n_labelled = sum("y" in r for r in rows)
    c = result.totals
    assert (c.messages, c.learned, c.predicted_only, c.bad) == (
        len(rows), n_labelled, len(rows) - n_labelled, 0)
    assert runner.encoder.feature_names == ["a", "b", "c"]  # "id" is ignored
    errors = [(r["y"] - p) ** 2 for r, (_, p) in zip(rows, out.predictions) if "y" in r]
    assert np.mean(errors) == pytest.approx(runner.model.running_mse, rel=1e-9)  # the model's
    assert result.reason == "end of input"


@pytest.mark.parametrize("batch_size", [1, 7, 1000])
def test_batch_size_does_not_change_the_model(tmp_path, batch_size, assert_same_model):
    path = write_jsonl(tmp_path / "d.jsonl", make_rows())
    base, _ = run_file(path, batch_size=64)
    other, _ = run_file(path, batch_size=batch_size)
    assert_same_model(base.model, other.model, tol=1e-12)


def test_bad_messages_are_dead_lettered_and_skipped(tmp_path, assert_same_model):
    rows = make_rows(50)
    poison = {5: b"{oops", 9: b'{"a": 1, "b": 1, "c": 2, "y": "x"}', 20: b"[]",
              30: b'{"a": 1, "b": 2, "c": NaN, "y": 1}'}
    out = Collect()
    runner, result = run_file(write_jsonl(tmp_path / "d.jsonl", rows, poison), outputs=out)
    assert out.dead == [(5, Reason.INVALID_JSON), (9, Reason.NON_NUMERIC_TARGET),
                        (20, Reason.NOT_OBJECT), (30, Reason.NONFINITE_FEATURE)]
    assert result.totals.bad == 4 and result.totals.messages == 54
    clean, _ = run_file(write_jsonl(tmp_path / "clean.jsonl", rows))
    assert_same_model(runner.model, clean.model, tol=1e-12)
    assert len(out.predictions) == 50


def test_a_diverging_row_is_refused_and_the_rest_is_learned(tmp_path, assert_same_model):
    rows = [{"a": 1.0 + i % 3, "y": 2.0 * (1.0 + i % 3)} for i in range(20)]
    poisoned = rows[:10] + [{"a": 1e300, "y": 1e300}] + rows[10:]
    sgd = {"learning_rate": 0.05, "intercept_lr": 0.05}

    def run(data, name):
        m = SGDRegressor.from_config(sgd)
        out = Collect()
        r, res = run_file(write_jsonl(tmp_path / name, data), model=m, outputs=out, batch_size=8)
        return r, res, out

    r1, res1, out1 = run(poisoned, "p.jsonl")
    r2, _, _ = run(rows, "c.jsonl")
    assert out1.dead == [(10, Reason.DIVERGED)]
    assert res1.totals.diverged == 1 and res1.totals.bad == 1 and res1.totals.learned == 20
    assert [o for o, _ in out1.predictions] == [i for i in range(21) if i != 10]
    assert_same_model(r1.model, r2.model, tol=1e-12)


class RefusesMarkedRows(SGDRegressor):
    """A model that refuses, as a value, any row holding a == -999 (and learns the others)."""

    def learn_rows_sparse(self, indptr, indices, values, y, columns, learn=None,
                          sample_weight=None):
        a = list(columns).index("a")
        marked = np.array([bool(((indices[s:e] == a) & (values[s:e] == -999)).any())
                           for s, e in zip(indptr[:-1], indptr[1:])])
        outcome = super().learn_rows_sparse(indptr, indices, values, y, columns,
                                            learn & ~marked, sample_weight)
        outcome.codes[marked] = LearnOutcome.REASONS.index("non_finite_feature")
        return outcome


def test_a_row_the_model_refuses_is_skipped_and_the_rest_learned(tmp_path, assert_same_model):
    rows = make_rows(40)
    marked = [dict(r) for r in rows]
    marked[17]["a"] = -999.0
    out = Collect()
    model = RefusesMarkedRows(**MODEL)
    r, _ = run_file(write_jsonl(tmp_path / "m.jsonl", marked), model=model, outputs=out)
    assert out.dead == [(17, Reason.MODEL_REFUSED)]
    expected, _ = learn_one_loop(rows[:17] + rows[18:])
    assert_same_model(r.model, expected)


def test_stop_and_resume_from_the_checkpoint_gives_the_uninterrupted_model(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", make_rows(500))
    whole, _ = run_file(path, batch_size=64)
    ckpt = tmp_path / "m.ckpt.json"
    positions = []
    for limit in (130, 7, None):
        with CheckpointStore(ckpt) as store:
            runner, result = run_file(path, batch_size=64, store=store, max_messages=limit,
                                      every_messages=50)
            positions.append(store.load().source["position"])
    assert positions == [130, 137, 500]
    assert result.resumed_from == 137
    mine, reference = runner.model.to_dict(), whole.model.to_dict()
    assert mine["feature_state"] == reference["feature_state"]  # weights: bit for bit
    assert mine["scalars"] == reference["scalars"]
    assert_close(mine, reference)  # metrics: summed over other batch splits (last-ulp rounding)
    assert runner.counters.messages == 500


def test_checkpoints_are_periodic_and_flush_outputs_first(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", make_rows(200))
    out = Collect()
    with CheckpointStore(tmp_path / "c.json") as store:
        runner, _ = run_file(path, batch_size=10, store=store, outputs=out, every_messages=50)
        assert store.writes == 4  # after 50, 100, 150, 200 messages; the final one had no news
    assert out.flushes >= 2 * store.writes  # outputs and dead letters are flushed each time


def test_max_messages_is_exact(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", make_rows(100))
    runner, result = run_file(path, batch_size=30, max_messages=45)
    assert result.totals.messages == 45 and result.reason == "max_messages"


def test_snapshot_numbers_are_finite_after_a_run(tmp_path):
    runner, result = run_file(write_jsonl(tmp_path / "d.jsonl", make_rows(50)))
    s = result.snapshot
    assert s.messages == 50 and s.rate > 0
    assert all(math.isfinite(v) for v in (s.running_mse, s.rolling_mse, s.learning_rate))


def test_checkpoint_of_another_file_is_refused(tmp_path):
    from consumers.errors import CheckpointError

    ckpt = tmp_path / "m.ckpt.json"
    with CheckpointStore(ckpt) as store:
        run_file(write_jsonl(tmp_path / "one.jsonl", make_rows(20)), store=store)
    with CheckpointStore(ckpt) as store, pytest.raises(CheckpointError, match="one.jsonl"):
        run_file(write_jsonl(tmp_path / "two.jsonl", make_rows(20)), store=store)


class FailsOnce(SGDRegressor):
    """A model whose learn_rows_sparse crashes on the second call."""

    calls = 0

    def learn_rows_sparse(self, *args, **kwargs):
        FailsOnce.calls += 1
        if FailsOnce.calls == 2:
            raise RuntimeError("boom")
        return super().learn_rows_sparse(*args, **kwargs)


def test_no_checkpoint_after_an_unexpected_error_mid_batch(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", make_rows(100))
    ckpt = tmp_path / "m.ckpt.json"
    FailsOnce.calls = 0
    with CheckpointStore(ckpt) as store:
        learned = Learned(FailsOnce(**MODEL), FeatureEncoder(target="y"), Counters())
        with Runner(learned, lambda _: RowSource(path), reading=Reading(batch_size=30),
                    checkpointing=Checkpointing(store, 30, every_seconds=None)) as runner:
            with pytest.raises(RuntimeError, match="boom"):
                runner.run()
            assert runner.checkpoint(final=True) is False  # e.g. from a rebalance listener
    assert store.writes == 1 and store.load().source["position"] == 30


# -- saying what goes wrong ----------------------------------------------------------------------


def house_rows(n: int = 600, seed: int = 3) -> list[dict]:
    """Raw house prices: a target near 3e5, features of different scales, strings and dates."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        sqm, age = float(rng.uniform(30, 250)), float(rng.uniform(0, 100))
        rows.append({"sold": f"2021-01-{1 + i % 28:02d}", "sqm": sqm, "age": age, "city": "Lyon",
                     "price": 50_000 + 2_500 * sqm - 600 * age + float(rng.normal()) * 2e4})
    return rows


def test_a_model_worse_than_its_baseline_is_reported_with_reasons(tmp_path, caplog):
    path = write_jsonl(tmp_path / "h.jsonl", house_rows())
    with caplog.at_level("INFO", logger="consumers"):
        runner, result = run_file(
            path, fields=FieldsSettings(target="price", ignore=("sold", "city")),
            model=SGDRegressor(standardize=False, learning_rate=0.01,
                               intercept_lr=0.01))  # raw plain SGD overshoots
    s = result.snapshot
    assert s.rolling_mse > 10 * s.baseline_rolling_mse
    assert s.baseline_running_mse == runner.model.baseline_running_mse  # read, not recomputed
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("worse than a constant" in w and "learning rate is too large" in w
               for w in warnings)
    assert result.failure is None  # it learned: loud, but not a failure


def test_a_model_better_than_its_baseline_is_not_warned_about(tmp_path, caplog):
    with caplog.at_level("WARNING", logger="consumers"):
        _, result = run_file(write_jsonl(tmp_path / "d.jsonl", make_rows()))
    assert result.snapshot.rolling_mse < result.snapshot.baseline_rolling_mse
    assert not [r for r in caplog.records if "worse than a constant" in r.getMessage()]


def test_what_each_field_becomes_is_reported_at_start(tmp_path, caplog):
    path = write_jsonl(tmp_path / "h.jsonl", house_rows(20))
    with caplog.at_level("INFO", logger="consumers"):
        run_file(path, fields=FieldsSettings(target="price", ignore=("age",)))
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "field 'sqm': sqm" in text
    assert "field 'city': city=Lyon" in text
    assert "field 'price': the target" in text
    assert "field 'age': no feature" in text
    assert "field 'sold' holds date/time strings" in text
    with caplog.at_level("INFO", logger="consumers"):
        caplog.clear()
        run_file(path, fields=FieldsSettings(target="price", timestamp="sold"))
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "field 'sold': the timestamp (never a feature)" in text
    assert "date/time strings" not in text


@pytest.mark.parametrize("written", ["2021/01/31", "Jan 31 2021", "31.01.2021", "2021-01"])
def test_dates_that_timestamp_cannot_read_are_warned_about_too(tmp_path, caplog, written):
    rows = [{**row, "sold": written} for row in house_rows(20)]
    path = write_jsonl(tmp_path / "h.jsonl", rows)
    with caplog.at_level("WARNING", logger="consumers"):
        run_file(path, fields=FieldsSettings(target="price"))
    assert f"field 'sold' holds dates ({written!r}) that --timestamp cannot read" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="consumers"):
        run_file(path, fields=FieldsSettings(target="price", ignore=("sold",)))
    assert "holds date" not in caplog.text  # ignored: no category, nothing to warn about


def test_fields_whose_categories_cannot_help_are_warned_about(tmp_path, caplog):
    rows = [{**row, "sqm": "1,250" if i == 5 else row["sqm"], "ref": f"H-{i}"}
            for i, row in enumerate(house_rows(300))]
    path = write_jsonl(tmp_path / "h.jsonl", rows)
    with caplog.at_level("WARNING", logger="consumers"):
        run_file(path, fields=FieldsSettings(target="price", timestamp="sold"))
    assert "field 'ref' has 300 distinct values in 300 rows ('H-0', 'H-1', ...)" in caplog.text
    assert "field 'sqm' holds numbers and text ('1,250')" in caplog.text
    assert "field 'city'" not in caplog.text  # one value in every row: a category that helps


def test_a_target_that_is_almost_a_field_stops_the_run(tmp_path):
    from consumers.errors import ConfigError

    path = write_jsonl(tmp_path / "h.jsonl", house_rows(20))
    with pytest.raises(ConfigError, match="did you mean 'price'") as info:
        run_file(path, fields=FieldsSettings(target="Price"))
    assert "'sqm', 'age'" in str(info.value)


def test_a_run_that_learns_nothing_says_why(tmp_path):
    all_bad = write_jsonl(tmp_path / "bad.jsonl", [{"a": 1.0, "y": "x"}] * 5)
    _, result = run_file(all_bad)
    assert result.failure.startswith("learned nothing: all 5 rows were refused")
    assert "non_numeric_target x5 (first: non_numeric_target: 'y' is 'x')" in result.failure
    unlabelled = write_jsonl(tmp_path / "u.jsonl", [{"a": 1.0, "b": 2.0}] * 4)
    _, result = run_file(unlabelled)
    assert "none of the 4 rows had a value for the target 'y'" in result.failure
    assert "'a', 'b'" in result.failure
    trained = SGDRegressor()
    trained.learn_one({"a": 1.0, "b": 2.0}, 1.0)
    _, result = run_file(unlabelled, model=trained)  # scoring with a learned model: fine
    assert result.failure is None


def test_a_first_row_without_the_target_is_said_so(tmp_path, caplog):
    path = tmp_path / "late.csv"  # the column is there; its first cell is empty
    path.write_text("a,y\n1,\n2,4\n3,6\n")
    with caplog.at_level("WARNING", logger="consumers"):
        _, result = run_file(path)
    assert "the first row has no value for the target 'y' (its fields: 'a')" in caplog.text
    assert "not a field" not in caplog.text
    assert result.snapshot.learned == 2


def test_patterns_that_match_no_field_are_warned_about_and_no_feature_is_a_failure(
        tmp_path, caplog):
    path = write_jsonl(tmp_path / "h.jsonl", house_rows(50))
    with caplog.at_level("WARNING", logger="consumers"):
        _, result = run_file(path, fields=FieldsSettings(target="price", include=("SQM", "age"),
                                                         ignore=("sold", "cty")))
    assert "--include pattern 'SQM' matches no field of the first row; did you mean 'sqm'?" \
        in caplog.text
    assert "--ignore pattern 'cty' matches no field of the first row; did you mean 'city'?" \
        in caplog.text
    assert result.failure is None  # 'age' is a feature
    _, result = run_file(path, fields=FieldsSettings(target="price", include=("SQM",)))
    assert result.failure.startswith("learned no feature: no row gave one, so the model "
                                     "predicts the mean target alone")


def test_a_new_model_that_reads_no_row_has_learned_nothing(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    _, result = run_file(empty)
    assert result.failure == ("learned nothing: read no row from 'empty.jsonl' (an empty input, "
                              "or a CSV header alone)")
    store = CheckpointStore(tmp_path / "c.ckpt.json")
    path = write_jsonl(tmp_path / "d.jsonl", make_rows(20))
    run_file(path, store=store)
    _, result = run_file(path, store=store)  # resumed at the end: nothing new, no failure
    assert result.snapshot.messages == 0 and result.failure is None


def test_more_than_half_refused_is_a_warning_with_the_top_reasons(tmp_path, caplog):
    rows = [{"a": float(i), "y": 1.0} for i in range(4)]
    path = write_jsonl(tmp_path / "d.jsonl", rows, extra={k: b"{broken" for k in range(4, 9)})
    with caplog.at_level("WARNING", logger="consumers.runner"):
        _, result = run_file(path)
    assert result.snapshot.bad == 5 and result.failure is None
    (warning,) = [r.getMessage() for r in caplog.records if "were refused" in r.getMessage()]
    assert warning.startswith("5 of 9 rows were refused; top reasons: invalid_json x5")


class Revocable(RowSource):
    """A file source given, like a Kafka one, the runner's checkpoint for revocations."""

    def __init__(self, path, on_revoke):
        super().__init__(path)
        self.on_revoke = on_revoke


def test_the_source_is_opened_with_the_runners_checkpoint_for_revocations(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", make_rows(100))
    learned = restore(None, FieldsSettings(target="y"), MODEL, {})
    with CheckpointStore(tmp_path / "c.json") as store, \
            Runner(learned, lambda hook: Revocable(path, hook),
                   checkpointing=Checkpointing(store, None, None)) as runner:
        runner.process(runner.source.poll(30))
        assert runner.source.on_revoke() is True  # partitions revoked now: checkpointed
        assert store.writes == 1 and store.load().source["position"] == 30
        runner.request_stop()
        assert runner.stopping and runner.run().totals.messages == 30
