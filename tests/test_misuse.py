"""A careless user's command lines: each ends in a clear error (exit 2) or a proper run, never
a traceback, and none changes the user's files silently."""

import hashlib

from nasdsl.cli import main

TINY = ["--set", "C=2", "--set", "N=1", "--subset", "32", "--batch", "16", "--epochs", "1",
        "--no-progress"]
BAD_NUMBERS = {  # option: values outside its range, or not numbers at all
    "--lr": ["-1", "0", "nan", "inf", "x"], "--lr-min": ["-1", "nan"],
    "--momentum": ["-1", "1", "nan"], "--weight-decay": ["-1", "nan"],
    "--arch-lr": ["nan", "-0.1", "0"], "--arch-weight-decay": ["-1"],
    "--grad-clip": ["-1", "0"], "--seed": [str(2**70), "-1", "1.5"],
    "--epochs": ["0", "-3", "2.5"], "--batch": ["0", "x"], "--subset": ["0", "-5"],
    "--train-portion": ["0", "1", "1.5"], "--tau-max": ["0", "-1"], "--tau-min": ["0", "nan"],
    "--beta-decay": ["-1"], "--partial-k": ["0"], "--arch-warmup": ["-5"],
}
METHOD_OPTIONS = [
    ["--method", "rome", "--rome-k", "0"], ["--method", "rome", "--rome-version", "3"],
    ["--method", "zero-one-shot", "--prune-level", "1"],
    ["--method", "zero-one-shot", "--prune-batches", "0"],
    ["--method", "entranas", "--engine-tau", "0"],
    ["--method", "entranas", "--engine-tau-decay", "1.5"],
    ["--method", "entranas-dst", "--dst-lambda", "-1"],
    ["--method", "entranas", "--feature-sharing", "maybe"],
    ["--method", "darts", "--rome-k", "3"],  # an option of another method
    ["--method", "entranas", "--engine-cells", "9"],
]


def command_lines(user: str, file: str) -> list[list[str]]:
    """Over a hundred misuses; `user` is a directory of the user's own files, `file` a file."""
    lines = [["run", "nb201", *TINY, option, value]
             for option, values in BAD_NUMBERS.items() for value in values]
    lines += [["run", "nb201", *TINY, *options] for options in METHOD_OPTIONS]
    lines += [["run", "nb201", *TINY, "--device", device]
              for device in ("meta", "mps", "cuda:3", "gpu", "cpu:1", "")]
    lines += [["run", "nb201", *TINY, "--method", name] for name in ("DARTS", "dartz", "")]
    lines += [["run", "nb201", *TINY, "--out", out]
              for out in (user, file, f"{file}/run", "/proc/self/run")]
    lines += [["run", "nb201", *TINY, "--set", item]
              for item in ("c=4", "C", "C=x", "=4", "C=1000000000")]
    lines += [["run", "--resume", path, "--no-progress"]
              for path in (user, file, f"{user}/missing", "/nonexistent")]
    lines += [["run", *TINY], ["run", "missing.nas", *TINY], ["run", user, *TINY],
              ["run", "nb201", *TINY, "--dataset", "mnist"],
              ["run", "nb201", *TINY, "--rewrites", "bogus"],
              ["run", "nb201", *TINY, "--objective", "speed"],
              ["run", "nb201", *TINY, "--benchmark", f"{user}/missing.csv"],
              ["run", "nb201", *TINY, "--benchmark", user],
              ["run", "darts", *TINY, "--benchmark", file],
              ["run", "nb201", *TINY, "--resume", user, "--out", user]]
    lines += [["bench", "nb201", *options] for options in (
        ["--batch", "0"], ["--repeats", "0"], ["--methods", "dartz"], ["--device", "meta"],
        ["--json", "/proc/self/x.json"], ["--csv", user], ["--kernel-norm", "sometimes"],
        ["--set", "Q=1"], ["--rome-k", "2"], ["--objective", "speed"])]
    lines += [["show", name] for name in ("missing", user, file)]
    lines += [["show", "nb201", "--batch", "0"], ["show", "nb201", "--set", "C=1000000000"],
              ["show", "nb201", "--set", "oops=1", "--no-cost"]]
    lines += [["simplify", "nb201", *options] for options in (
        ["--rewrites", "pmz"], ["--objective", "speed"], ["--target", "tpu"],
        ["--batch", "-2"], ["--set", "Q=1"])]
    lines += [["check", name] for name in ("missing", user, file)]
    return lines


def digest(directory) -> dict:
    return {str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(directory.rglob("*")) if path.is_file()}


def test_misuse_corpus(tmp_path, monkeypatch, capsys):
    """Every line exits 0 or 2 with no exception but SystemExit(2) from argparse; the user's
    directory and file are as they were."""
    monkeypatch.chdir(tmp_path)
    user = tmp_path / "user"
    user.mkdir()
    (user / "notes.txt").write_text("my notes")
    (user / "config.json").write_text('{"mine": true}')
    (user / "checkpoint.pt").write_bytes(b"my weights")
    file = tmp_path / "file.txt"
    file.write_text("a file")
    before = digest(tmp_path)
    lines = command_lines(str(user), str(file))
    assert len(lines) >= 100
    for line in lines:
        try:
            status = main(line)
        except SystemExit as exit:
            status = exit.code
        err = capsys.readouterr().err
        assert status in (0, 2), (line, err)
        assert "Traceback" not in err, (line, err)
    after = digest(tmp_path)
    assert {k: v for k, v in after.items() if k in before} == before
