"""consumers.reporting: the model beside its baseline in the summary, the warnings and the plot."""

from __future__ import annotations

import math

import pytest

from consumers.reporting import (
    MIN_ROWS_COMPARED,
    MSECurve,
    Snapshot,
    baseline_warning,
    format_summary,
    write_plot,
)


def snap(model: float, baseline: float, updates: int = 5000) -> Snapshot:
    return Snapshot(messages=updates, learned=updates, predicted_only=0, bad=0, diverged=0,
                    running_mse=model, rolling_mse=model, learning_rate=0.01, elapsed=1.0,
                    baseline_running_mse=baseline, baseline_rolling_mse=baseline,
                    updates=updates)


@pytest.mark.parametrize(
    ("model", "baseline", "says"),
    [(5e10, 2.5e10, "learns too slowly"), (1e28, 2.5e10, "the updates overshoot"),
     (1.0, 0.0, "the updates overshoot")],
)
def test_a_model_worse_than_its_baseline_is_warned_about_with_a_reason(model, baseline, says):
    text = baseline_warning(snap(model, baseline))
    assert text.startswith("the model predicts worse than a constant") and says in text
    assert "over the last 1000 rows" in text
    summary = format_summary(snap(model, baseline))
    assert "WARNING:" in summary


@pytest.mark.parametrize(
    ("model", "baseline", "updates"),
    [(1.0, 2.0, 5000), (3.0, 2.0, MIN_ROWS_COMPARED - 1), (math.nan, 2.0, 5000)],
    ids=["better", "too-early", "no-error-yet"],
)
def test_no_warning_when_better_or_too_early(model, baseline, updates):
    assert baseline_warning(snap(model, baseline, updates)) is None
    assert "WARNING" not in format_summary(snap(model, baseline, updates))


def test_the_summary_shows_the_baseline_and_no_error_for_a_model_that_learned_nothing():
    lines = format_summary(snap(1.5, 2.25)).splitlines()
    assert "baseline MSE:    2.25 running, 2.25 rolling (always predicting the mean target " \
           "so far)" in lines
    empty = format_summary(snap(0.0, 0.0, updates=0))
    assert "running MSE:     n/a" in empty and "baseline MSE:    n/a running" in empty


def test_the_curve_keeps_one_point_a_batch_and_thins_itself():
    curve = MSECurve(max_points=10)
    for k in range(1, 101):
        curve.add(k * 25, 1.0 / k, 0.5)
    curve.add(100 * 25, 9.0, 9.0)  # nothing learned since: ignored
    x, model, baseline = curve.points()
    assert 5 <= len(x) <= 10 and x[0] == 25 and (x[1:] > x[:-1]).all()
    assert model[0] == 1.0 and (baseline == 0.5).all()


def test_the_plot_draws_both_curves_on_a_log_scale_when_one_dwarfs_the_other(tmp_path,
                                                                             monkeypatch):
    import matplotlib.axes

    scales = []
    real = matplotlib.axes.Axes.set_yscale
    monkeypatch.setattr(matplotlib.axes.Axes, "set_yscale",
                        lambda ax, value, **kw: (scales.append(value), real(ax, value, **kw)))
    curve = MSECurve()
    for k in range(1, 50):
        curve.add(k, 1e28, 3e10)
    write_plot(curve, str(tmp_path / "a.png"))
    flat = MSECurve()
    for k in range(1, 50):
        flat.add(k, 2.0, 3.0)
    write_plot(flat, str(tmp_path / "b.png"))
    assert scales == ["log"]
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"


def test_the_log_line_shows_the_baseline(caplog):
    from consumers.reporting import LogLine

    with caplog.at_level("INFO", logger="consumers"):
        LogLine(10.0, clock=lambda: 0.0).maybe(lambda: snap(1.5, 2.25), force=True)
    assert "running_mse=1.5 rolling_mse=1.5 baseline_running_mse=2.25 " \
           "baseline_rolling_mse=2.25" in caplog.text
