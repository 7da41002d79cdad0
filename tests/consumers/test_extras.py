"""Plotting and metrics are extras: a setting that needs a missing one exits 2 naming it."""

from __future__ import annotations

import sys

import pytest

from consumers.cli import main


@pytest.mark.parametrize(
    ("module", "argv", "extra"),
    [
        ("matplotlib", ["replay", "--plot", "mse.png"], "plot"),
        ("prometheus_client", ["consume", "--topic", "t", "--metrics-port", "0"], "metrics"),
        ("confluent_kafka", ["consume", "--topic", "t", "--client", "confluent"], "confluent"),
    ],
)
def test_a_missing_extra_exits_2_with_the_pip_line(module, argv, extra, monkeypatch, capsys,
                                                   tmp_path):
    monkeypatch.setitem(sys.modules, module, None)  # `import module` now raises ImportError
    monkeypatch.chdir(tmp_path)
    assert main([*argv, "-q"]) == 2
    err = capsys.readouterr().err
    assert f"pip install 'online-lr[{extra}]'" in err
    assert not (tmp_path / "mse.png").exists() and not list(tmp_path.iterdir())


def test_the_library_and_the_cli_import_without_the_extras():
    import subprocess

    code = ("import sys\n"
            "for m in ('matplotlib', 'prometheus_client', 'confluent_kafka'):\n"
            "    sys.modules[m] = None\n"
            "import online_lr, consumers.cli, consumers.runner, consumers.metrics_server\n"
            "print(consumers.cli.main(['replay', '-q']))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "0"
