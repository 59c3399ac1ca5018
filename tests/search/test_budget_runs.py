"""Searches under a memory budget: `nasdsl run --memory-budget` says what it chose and
searches, and a budget nothing fits is a clear error before any directory is made."""

import pytest

from nasdsl.cli import main

TINY = ["nb201", "--set", "C=4", "--set", "N=1", "--epochs", "1", "--subset", "128",
        "--batch", "32", "--no-progress"]


def test_a_search_within_a_budget_reports_its_choice(tmp_path, capsys):
    """A search under a budget finishes and notes the modelled memory and the cells it
    recomputes."""
    assert main(["run", *TINY, "--memory-budget", "3MiB", "--out", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    assert "note: memory budget 3.0 MiB: modelled" in err and "recomputed in backward" in err
    assert (tmp_path / "run" / "result.json").exists()


def test_a_budget_nothing_fits_is_refused_before_any_work(tmp_path, capsys):
    """A budget below the least the cost model finds: exit 2, the least named, a hint, and
    no run directory left."""
    assert main(["run", *TINY, "--memory-budget", "1KiB", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "nothing fits a memory budget of 1.0 KiB" in err
    assert "raise --memory-budget to at least" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_a_memory_budget_must_be_an_amount_of_memory(capsys):
    """`--memory-budget lots` is a usage error that says how to write one."""
    with pytest.raises(SystemExit) as error:
        main(["run", *TINY, "--memory-budget", "lots"])
    assert error.value.code == 2
    assert "an amount of memory such as 2GiB" in capsys.readouterr().err
