"""The `nasdsl` command line: exit statuses, located errors on stderr, never a traceback."""

import shutil
import subprocess
import sys

from nasdsl.cli import main
from tests.paths import ROOT, SPACES

SHIPPED_FILES = sorted(str(path) for path in SPACES.glob("*.nas"))


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nasdsl.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_check_shipped_spaces(capsys):
    """`nasdsl check spaces/*.nas` says ok for each file and exits 0."""
    assert main(["check", *SHIPPED_FILES]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"{file}: ok" for file in SHIPPED_FILES]
    assert err == ""


def test_check_shipped_spaces_as_a_process():
    """The same through the module entry point in a fresh interpreter."""
    result = run_cli("check", *SHIPPED_FILES)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"{file}: ok" for file in SHIPPED_FILES]
    assert result.stderr == ""


def test_check_a_shipped_space_by_name(capsys):
    """A shipped space is found by its bare name."""
    assert main(["check", "nb201"]) == 0
    assert capsys.readouterr().out == "nb201: ok\n"


def test_show_nb201_counts_architectures(capsys):
    """`nasdsl show` summarizes NAS-Bench-201 with its 15,625 architectures."""
    assert main(["show", str(SPACES / "nb201.nas"), "--no-cost"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("space nb201 (nb201.nas)\n")
    assert "architectures: 15,625\n" in out


def test_show_measures_the_supernets(capsys):
    """`nasdsl show` measures one training step of the naive and the simplified supernet:
    same parameters (the reference code's 1,692,826 for NB201), less activation memory."""
    assert main(["show", "nb201", "--batch", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    naive = next(line for line in lines if line.strip().startswith("naive")).split()
    simple = next(line for line in lines if line.strip().startswith("simplified")).split()
    assert naive[1] == simple[1] == "1,692,826" and naive[2] == simple[2] == "30"
    assert float(simple[3]) < float(naive[3])


def test_misspelt_op_in_darts(tmp_path, capsys):
    """A misspelt candidate in a copy of DARTS: exit 2, one located error, a 'did you mean'."""
    shutil.copy(SPACES / "darts_ops.nas", tmp_path / "darts_ops.nas")
    text = (SPACES / "darts.nas").read_text()
    before = "    candidates none, max_pool_3x3, avg_pool_3x3, skip_connect, "
    assert text.index(before) < text.index("cell reduce")  # the first is the normal cell's
    line = text[:text.index(before)].count("\n") + 1
    path = tmp_path / "darts.nas"
    path.write_text(text.replace("sep_conv_3x3,", "sep_conv_3x4,", 1))

    assert main(["check", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("error:") == 1
    assert err.startswith(f"{path}:{line}:{len(before) + 1}: error: unknown op 'sep_conv_3x4'\n")
    assert "    hint: did you mean 'sep_conv_3x3'?\n" in err
    assert err.endswith("1 error\n")
    assert "Traceback" not in err


def test_check_reports_every_file(tmp_path, capsys):
    """A bad file among good ones: the good ones are ok, the status is 2."""
    bad = tmp_path / "bad.nas"
    bad.write_text("op a = relu -> rleu\n")
    assert main(["check", "nb201", str(bad), "darts"]) == 2
    out, err = capsys.readouterr()
    assert out == "nb201: ok\ndarts: ok\n"
    assert err == (f"{bad}:1:16: error: unknown module or chain 'rleu'\n"
                   "    op a = relu -> rleu\n"
                   "                   ^\n"
                   "    hint: did you mean 'relu'?\n"
                   "1 error\n")


def test_missing_file(tmp_path, capsys):
    """A path that does not exist: exit 2 and a one-line reason, for check and show."""
    missing = str(tmp_path / "nowhere.nas")
    assert main(["check", missing]) == 2
    assert main(["show", missing]) == 2
    err = capsys.readouterr().err
    assert err.count(f"error: no such file or shipped space: {missing}\n") == 2


def test_missing_file_as_a_process(tmp_path):
    """The same from a fresh interpreter: no traceback in anything it prints."""
    missing = str(tmp_path / "nowhere.nas")
    result = run_cli("show", missing)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: no such file or shipped space: {missing}\n")
    assert "Traceback" not in result.stderr


def test_unused_definitions_warn_but_pass(tmp_path, capsys):
    """Warnings go to stderr and `check` still exits 0, counting them."""
    path = tmp_path / "space.nas"
    text = (SPACES / "nb201.nas").read_text()
    path.write_text(text + "op spare = relu\n")
    assert main(["check", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out == f"{path}: ok (1 warning)\n"
    line = text.count("\n") + 1
    assert err == (f"{path}:{line}:1: warning: op 'spare' is never used\n"
                   "    op spare = relu\n"
                   "    ^\n")


def test_run_and_resume_from_the_command_line(tmp_path, capsys):
    """`nasdsl run` searches the embedded digits, prints the derived NB201 arch string and
    saves the run; `--resume` on the finished run reports the same architecture."""
    args = ["run", "nb201", "--set", "C=4", "--set", "N=1", "--subset", "64", "--epochs", "1",
            "--batch", "16", "--out", str(tmp_path / "run"), "--no-progress"]
    assert main(args) == 0
    first = capsys.readouterr().out
    arch = next(line for line in first.splitlines() if line.startswith("derived architecture"))
    assert arch.split(": ")[1].startswith("|") and (tmp_path / "run" / "result.json").is_file()
    assert main(["run", "--resume", str(tmp_path / "run"), "--no-progress"]) == 0
    assert arch in capsys.readouterr().out


def test_run_with_a_bad_setting_is_a_clear_error(capsys):
    """A misspelt method or a malformed --set is reported without a traceback, exit 2."""
    assert main(["run", "nb201", "--method", "dartz", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "unknown search method 'dartz'" in err and "did you mean 'darts'?" in err
    assert main(["run", "nb201", "--set", "C", "--no-progress"]) == 2
    assert "--set takes NAME=NUMBER" in capsys.readouterr().err


def test_a_misspelt_set_name_is_an_error_in_every_command(capsys):
    """`--set` of a name the network does not `let` (a typo would run the full-size network)
    is an error naming the network's lets, in run, show, simplify and bench alike."""
    for command in (["run", "nb201", "--no-progress"], ["show", "nb201", "--no-cost"],
                    ["simplify", "nb201"], ["bench", "nb201"]):
        assert main([*command, "--set", "c=4"]) == 2, command
        err = capsys.readouterr().err
        assert "network 'nb201' has no `let c`" in err and "did you mean 'C'?" in err


def test_show_and_simplify_preview_the_set_configuration(capsys):
    """`nasdsl show --set` and `nasdsl simplify --set` describe the network that will run."""
    assert main(["show", "nb201", "--set", "C=4", "--no-cost"]) == 0
    assert "cells cell x5: 4 channels" in capsys.readouterr().out
    assert main(["simplify", "nb201", "--set", "C=4"]) == 0
    assert "(4 channels, 32x32 in)" in capsys.readouterr().out


def test_a_literal_class_count_that_the_data_does_not_have(tmp_path, capsys):
    """A head of `linear(out=5)` without `let classes`, run on the 10 digits: a located error
    before any training, saying how to make the head follow the data."""
    text = (SPACES / "nb201.nas").read_text().replace("    let classes = 10\n", "").replace(
        "linear(out=classes)", "linear(out=5)")
    path = tmp_path / "five.nas"
    path.write_text(text)
    assert main(["run", str(path), "--epochs", "1", "--out", str(tmp_path / "run"),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "the head gives 5 class scores, but the data has 10 classes" in err
    assert f"{path}:" in err and "`let classes = ...`" in err


def test_an_unknown_or_missing_device_is_a_clear_error(capsys):
    """--device meta, mps, a garbage string or a CUDA device this machine lacks: exit 2 with
    what devices there are, never a KeyError from the cost model or torch's assertion."""
    import torch
    missing = ["cuda:99"] + ([] if torch.cuda.is_available() else ["cuda"])
    for device in ["meta", "mps", "gpu0", "cpu:1", *missing]:
        assert main(["bench", "nb201", "--set", "C=2", "--set", "N=1", "--batch", "2",
                     "--repeats", "1", "--device", device]) == 2, device
        err = capsys.readouterr().err
        assert f"device '{device}'" in err and ("this machine has cpu" in err or
                                                "this machine has no CUDA device" in err), err
