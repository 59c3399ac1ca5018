"""Run directories under misuse: never overwritten or mixed without --overwrite, locked while
a run uses them, checked before any work, and resumed only with what made them."""

import json
import os
import socket

import pytest
import torch

from nasdsl.cli import main
from nasdsl.search.loop import NonFiniteLoss, Search
from nasdsl.search.run_dir import CHECKPOINT, CONFIG, LOCK
from tests.search.test_search import tiny

RUN = ["--set", "C=2", "--set", "N=1", "--subset", "32", "--batch", "16", "--no-progress"]


def run(capsys, *args) -> tuple[int, str]:
    """`nasdsl run` in-process: its exit status and what it wrote to stderr."""
    status = main(["run", *args])
    return status, capsys.readouterr().err


@pytest.fixture
def finished(tmp_path, capsys):
    """A finished one-epoch nb201 run."""
    out = tmp_path / "run"
    assert run(capsys, "nb201", *RUN, "--epochs", "1", "--out", str(out))[0] == 0
    return out


def contents(directory):
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def test_a_directory_of_other_files_is_refused_without_overwrite(tmp_path, capsys):
    """--out a non-empty directory that is not a run: refused, its files untouched; with
    --overwrite the run goes there and other files stay."""
    out = tmp_path / "mine"
    out.mkdir()
    (out / "config.json.bak").write_text("mine")
    (out / "notes.txt").write_text("keep me")
    before = contents(out)
    status, err = run(capsys, "nb201", *RUN, "--epochs", "1", "--out", str(out))
    assert status == 2 and "is not empty and is not a run directory" in err
    assert contents(out) == before
    assert run(capsys, "nb201", *RUN, "--epochs", "1", "--out", str(out), "--overwrite")[0] == 0
    assert (out / "notes.txt").read_text() == "keep me" and (out / CONFIG).is_file()


@pytest.mark.parametrize(("change", "named"), [
    (["--epochs", "2"], "--epochs 1 there, 2 here"),
    (["--lr", "0.05"], "--lr 0.025 there, 0.05 here"),
])
def test_another_configuration_in_a_run_directory_is_refused(finished, capsys, change, named):
    """--out a finished run with another --epochs or --lr: an error naming the setting; the
    directory still says what made its result."""
    before = contents(finished)
    status, err = run(capsys, "nb201", *RUN, "--epochs", "1", *change, "--out", str(finished))
    assert status == 2 and "holds a run of another configuration" in err and named in err
    assert contents(finished) == before


def test_a_run_of_another_space_is_refused_before_anything_is_written(finished, capsys):
    """--out a run of nb201 given darts: an error, not a size mismatch after the files were
    overwritten."""
    before = contents(finished)
    status, err = run(capsys, "darts", *RUN, "--epochs", "1", "--out", str(finished))
    assert status == 2 and "space 'nb201' there, 'darts' here" in err
    assert contents(finished) == before


def test_a_locked_directory_is_refused_and_a_stale_lock_can_be_cleared(finished, capsys):
    """A live lock (this very process) refuses a second run; a lock of a process that no
    longer runs is reported, and --break-lock clears it."""
    lock = finished / LOCK
    host = socket.gethostname()
    lock.write_text(json.dumps({"pid": os.getpid(), "host": host}))
    status, err = run(capsys, "--resume", str(finished), "--no-progress")
    assert status == 2 and f"another run (process {os.getpid()} on {host})" in err
    lock.write_text(json.dumps({"pid": 2**22 + 12345, "host": host}))
    status, err = run(capsys, "--resume", str(finished), "--no-progress")
    assert status == 2 and "which is no longer running" in err and "--break-lock" in err
    assert run(capsys, "--resume", str(finished), "--no-progress", "--break-lock")[0] == 0
    assert not lock.exists()


@pytest.mark.parametrize(("out", "message"), [
    ("file", "is a file, not a directory"),
    ("file/run", "cannot be made: {tmp}/file is a file"),
    ("/proc/self/run", "cannot be written"),
])
def test_an_out_that_cannot_be_a_run_directory_fails_before_any_work(tmp_path, capsys, out,
                                                                     message):
    """--out a regular file, a path under one, or an unwritable place: a clear error."""
    (tmp_path / "file").write_text("")
    path = out if out.startswith("/") else str(tmp_path / out)
    status, err = run(capsys, "nb201", *RUN, "--epochs", "1", "--out", path)
    assert status == 2 and message.format(tmp=tmp_path) in err


@pytest.mark.parametrize("option", ["--json", "--csv"])
def test_bench_files_that_cannot_be_written_fail_before_measuring(tmp_path, capsys, option):
    """bench --json / --csv to an unwritable path or a directory: an error, no measurement."""
    for path in ("/proc/self/bench.out", str(tmp_path)):
        assert main(["bench", "nb201", option, path]) == 2
        err = capsys.readouterr().err
        assert "measuring" not in err and option in err


def test_a_failed_run_leaves_nothing_and_kill_leftovers_are_cleaned(tmp_path, capsys):
    """A run that fails before its first epoch (here: --benchmark on the DARTS space) leaves
    no directory; the temporary of a checkpoint write a kill interrupted is removed."""
    out = tmp_path / "run"
    status, _ = run(capsys, "darts", *RUN, "--epochs", "1", "--benchmark", "table.csv",
                    "--out", str(out))
    assert status == 2 and not out.exists()
    assert run(capsys, "nb201", *RUN, "--epochs", "1", "--out", str(out))[0] == 0
    leftover = out / f".{CHECKPOINT}.abc123"
    leftover.write_bytes(b"half a checkpoint")
    assert run(capsys, "--resume", str(out), "--no-progress")[0] == 0
    assert not leftover.exists()


def older_layout_checkpoint(run_dir):
    """The checkpoint as supernets wrote it before methods declared their parameters."""
    state = torch.load(run_dir / CHECKPOINT, weights_only=False)
    state["net"] = {key.replace("architecture.alpha.", "arch."): value
                    for key, value in state["net"].items()}
    torch.save(state, run_dir / CHECKPOINT)


@pytest.mark.parametrize(("damage", "message"), [
    (lambda d: (d / CHECKPOINT).write_bytes((d / CHECKPOINT).read_bytes()[:500]),
     "checkpoint.pt cannot be read"),
    (lambda d: (d / CHECKPOINT).write_bytes(b""), "checkpoint.pt cannot be read"),
    (lambda d: ((d / CHECKPOINT).unlink(), (d / CHECKPOINT).mkdir()),
     "checkpoint.pt cannot be read"),
    (lambda d: (d / CONFIG).write_text((d / CONFIG).read_text()[:60]), "is not valid JSON"),
    (lambda d: (d / CONFIG).write_text("[1, 2]"), "holds a JSON list, not an object"),
    (lambda d: (d / CONFIG).write_text(json.dumps({**json.loads((d / CONFIG).read_text()),
                                                   "colour": 1})),
     "has the unknown setting 'colour'"),
    (lambda d: (d / CONFIG).write_text(json.dumps({k: v for k, v in json.loads(
        (d / CONFIG).read_text()).items() if k != "space"})), "lacks the setting 'space'"),
    (lambda d: (d / CONFIG).write_text(json.dumps({**json.loads((d / CONFIG).read_text()),
                                                   "tau_max": 10.0, "partial_k": 4})),
     "comes from an older layout of nasdsl's runs, in which partial_k, tau_max were search "
     "settings"),
    (older_layout_checkpoint, "comes from an older layout of nasdsl's supernets"),
], ids=["truncated", "empty", "directory", "config-truncated", "config-list", "config-unknown",
        "config-missing", "config-older-layout", "checkpoint-older-layout"])
def test_a_damaged_run_directory_is_a_clear_error_on_resume(finished, capsys, damage, message):
    """A corrupt, truncated or empty checkpoint, or a configuration cut short, listed,
    extended or missing a setting, or either from an older layout: a clear error naming the
    file, no traceback."""
    damage(finished)
    status, err = run(capsys, "--resume", str(finished), "--no-progress")
    assert status == 2 and message in err, err


def test_a_checkpoint_of_another_method_is_refused(tmp_path, capsys):
    """GDAS's checkpoint put into a DARTS run: resuming says the configuration differs
    (today's checkpoints record what made them)."""
    gdas, darts = tmp_path / "gdas", tmp_path / "darts"
    for out, method in ((gdas, "gdas"), (darts, "darts")):
        assert run(capsys, "nb201", *RUN, "--epochs", "2", "--method", method, "--out",
                   str(out))[0] == 0
    (darts / CHECKPOINT).write_bytes((gdas / CHECKPOINT).read_bytes())
    status, err = run(capsys, "--resume", str(darts), "--no-progress")
    assert status == 2 and "made by another configuration: method 'gdas' there, 'darts' here" \
        in err


@pytest.mark.parametrize(("given", "named"), [
    (["darts"], "space 'nb201' there, 'darts' here"),
    (["--method", "gdas"], "--method 'darts' there, 'gdas' here"),
    (["--epochs", "5"], "--epochs 1 there, 5 here"),
    (["--set", "C=4"], "overrides"),
])
def test_resume_refuses_settings_that_differ(finished, capsys, given, named):
    """--resume with another FILE, --method, --epochs or --set says what differs instead of
    ignoring it (a resumed run continues with its own settings; --epochs is not extended)."""
    status, err = run(capsys, "--resume", str(finished), "--no-progress", *given)
    assert status == 2 and named in err


def test_resume_with_the_same_settings_repeated_is_fine(finished, capsys):
    """Giving a setting again with the value the run has is no difference."""
    assert run(capsys, "nb201", "--resume", str(finished), "--epochs", "1", "--no-progress")[0] \
        == 0


def test_non_finite_state_is_never_kept_as_good(tmp_path, monkeypatch):
    """A BN running variance gone infinite while the losses read finite: the run stops before
    that epoch's checkpoint, which therefore keeps the last finite state."""
    search = Search(tiny(epochs=2), tmp_path / "run", progress=False)
    train = search._train_epoch

    def poisoned(epoch):
        figures = train(epoch)
        if epoch == 1:
            bn = next(m for m in search.net.modules() if isinstance(m, torch.nn.BatchNorm2d)
                      and m.running_var is not None)
            bn.running_var.fill_(float("inf"))
        return figures

    monkeypatch.setattr(search, "_train_epoch", poisoned)
    with pytest.raises(NonFiniteLoss, match="running_var became non-finite in epoch 1"):
        search.run()
    state = torch.load(tmp_path / "run" / CHECKPOINT, weights_only=False)
    assert state["epoch"] == 0
    assert all(torch.isfinite(v).all() for v in state["net"].values() if v.is_floating_point())


def test_the_non_finite_message_says_what_helps(tmp_path, capsys):
    """A loss that diverges in the first epoch: no resume is suggested (there is nothing to
    resume, and resuming would replay the same steps); the step sizes are named."""
    status, err = run(capsys, "nb201", *RUN, "--subset", "160", "--epochs", "1", "--lr", "1e30",
                      "--grad-clip", "1e30", "--out", str(tmp_path / "run"))
    assert status == 2 and "became" in err and "--lr 1e+30" in err
    assert "--resume" not in err and "nothing is kept" in err
    assert not (tmp_path / "run").exists()


def test_run_files_get_the_users_umask(finished):
    """Run-directory files are created with the usual umask, not owner-only."""
    mask = os.umask(0)
    os.umask(mask)
    assert (finished / CONFIG).stat().st_mode & 0o777 == 0o666 & ~mask


def test_overwrite_removes_the_old_runs_plots(finished, capsys):
    """--overwrite with another configuration removes the old run's plots (a kind the new
    run may not draw would otherwise stay as if it were the new run's), and the new run draws
    its own."""
    stale = finished / "plot-weights-gone.png"
    stale.write_bytes(b"old")
    assert run(capsys, "nb201", *RUN, "--epochs", "1", "--lr", "0.05", "--out", str(finished),
               "--overwrite")[0] == 0
    assert not stale.exists() and (finished / "plot-curves.png").is_file()
